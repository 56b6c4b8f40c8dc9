package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.internal.AtomicFiles;
import io.gpuvirt.core.internal.BoundedFiles;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.vfio.BindingStore;
import io.gpuvirt.core.vfio.StoredBinding;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The ledger file in a state directory. Writes replace it atomically: write a temporary file, fsync
 * it, rename it over the ledger, fsync the directory. A crash at any point leaves the old file or
 * the new one, never a torn one; a leftover temporary file is overwritten by the next write.
 * Writers hold the {@link LedgerLock}; readers need no lock (a rename is atomic).
 *
 * <p>State written by gpuvirt 0.1 is upgraded here: a version 1 {@code leases.json} is read as
 * version 2 and, before the first version 2 write replaces it, copied to
 * {@value #LEDGER_V1_BACKUP}; the bindings {@code gpuvirt bind} kept in {@code bindings.json} become
 * leases ({@link LegacyBindings}) and the file is renamed to {@value #BINDINGS_V1_BACKUP} once a
 * ledger holding them is on disk.
 *
 * <p>This is the default {@link LeaseStore} ({@link LeaseStore#jsonFile}): a transaction takes the
 * directory's lock ({@value #LOCK}), reads the file afresh and replaces it when the leases changed;
 * the operation lock is {@value #OPERATIONS_LOCK}.
 */
final class LedgerStore implements LeaseStore {
  static final String LEDGER = "leases.json";
  static final String TEMP = LEDGER + AtomicFiles.TEMP_SUFFIX;
  static final String LOCK = "leases.lock";
  static final String LEDGER_V1_BACKUP = "leases.json.v1.bak";
  static final String BINDINGS_V1_BACKUP = "bindings.json.v1.bak";
  static final String OPERATIONS_LOCK = "operations.lock";

  private final Path directory;
  private final Path file;

  LedgerStore(Path directory) {
    this.directory = directory;
    this.file = directory.resolve(LEDGER);
  }

  Path file() {
    return file;
  }

  Path directory() {
    return directory;
  }

  Path lockFile() {
    return directory.resolve(LOCK);
  }

  @Override
  public String location() {
    return file.toString();
  }

  @Override
  public <T> T transact(Function<TreeMap<String, Lease>, T> change) {
    return transact(Optional.empty(), Instant.EPOCH, change);
  }

  /**
   * As {@link #transact(Function)}; given the host's topology, it first converts an earlier
   * release's {@code bindings.json} into leases stamped {@code now}.
   */
  <T> T transact(Optional<Topology> topology, Instant now,
      Function<TreeMap<String, Lease>, T> change) {
    createDirectory();
    try (LedgerLock lock = LedgerLock.acquire(lockFile())) {
      TreeMap<String, Lease> leases = read();
      TreeMap<String, Lease> before = new TreeMap<>(leases);
      boolean legacy = topology.isPresent() && hasLegacyBindings();
      if (legacy) {
        LegacyBindings.convert(legacyBindings(), topology.get(), leases, now);
      }
      T result = change.apply(leases);
      if (legacy || !leases.equals(before)) {
        write(leases.values(), legacy);
      }
      return result;
    }
  }

  @Override
  public <T> T underOperationLock(Supplier<T> work) {
    createDirectory();
    try (LedgerLock lock = LedgerLock.acquire(directory.resolve(OPERATIONS_LOCK))) {
      return work.get();
    }
  }

  private void createDirectory() {
    try {
      Files.createDirectories(directory);
    } catch (IOException e) {
      throw new LedgerException(directory, "cannot create the gpuvirt state directory "
          + directory + " (" + e + "); create it or choose another with --state", e);
    }
  }

  /** The leases on disk, by owner; none when there is no ledger file yet. */
  @Override
  public TreeMap<String, Lease> read() {
    byte[] bytes = readBytes();
    return bytes == null ? new TreeMap<>() : LedgerCodec.decode(file, bytes);
  }

  /** The file's bytes, or null when there is no ledger file. */
  private byte[] readBytes() {
    try {
      if (Files.isSymbolicLink(file) && !Files.exists(file)) {
        throw new LedgerFormatException(file, "the lease ledger " + file + " is a dangling"
            + " symbolic link (a symbolic link to a file that does not exist); gpuvirt will not take it for an empty ledger (the"
            + " leases it pointed to would be forgotten). Restore the file it points to or remove"
            + " the link");
      }
      return BoundedFiles.read(file, BoundedFiles.STATE_FILE_MAX);
    } catch (NoSuchFileException e) {
      return null;
    } catch (BoundedFiles.RefusedFileException e) {
      throw new LedgerFormatException(file, "refusing the lease ledger " + file + ": it is "
          + e.found() + ", not a ledger file; restore leases.json from a backup", e);
    } catch (IOException e) {
      throw new LedgerException(file, "cannot read the lease ledger " + file + " (" + e
          + "); check its permissions", e);
    }
  }

  /** Whether a {@code bindings.json} of gpuvirt 0.1 waits to be converted into leases. */
  boolean hasLegacyBindings() {
    return Files.exists(directory.resolve(BindingStore.FILE), LinkOption.NOFOLLOW_LINKS);
  }

  /** The bindings of gpuvirt 0.1's {@code bindings.json}, strictly read. */
  List<StoredBinding> legacyBindings() {
    try {
      return BindingStore.open(directory).bindings();
    } catch (io.gpuvirt.core.GpuvirtException e) {
      throw new LedgerFormatException(directory.resolve(BindingStore.FILE), "cannot convert "
          + directory.resolve(BindingStore.FILE) + ", the bindings of an earlier gpuvirt, into"
          + " leases: " + e.getMessage() + ". gpuvirt will not guess; repair or restore the file"
          + " (it names each bound device and its original driver), then retry", e);
    }
  }

  /**
   * Replaces the ledger with these leases, durably (see {@link AtomicFiles}). The first write over
   * a version 1 file keeps a copy of it first. With {@code legacyImported}, the converted
   * {@code bindings.json} is renamed to its backup once the new ledger is durable.
   */
  void write(Collection<Lease> leases, boolean legacyImported) {
    byte[] bytes = LedgerCodec.encode(leases);
    java.util.Optional<String> conflict = LedgerCodec.conflict(leases);
    if (conflict.isPresent()) {
      throw new LedgerException(file, "refusing to write the lease ledger " + file + ": "
          + conflict.get() + "; nothing was written, the ledger keeps its previous leases");
    }
    try {
      Files.createDirectories(directory);
      byte[] old = readBytes();
      Path backup = directory.resolve(LEDGER_V1_BACKUP);
      if (old != null && LedgerCodec.version(old) < LedgerRecords.VERSION
          && !Files.exists(backup)) {
        AtomicFiles.replace(backup, old);
      }
      AtomicFiles.replace(file, bytes);
      if (legacyImported) {
        Files.move(directory.resolve(BindingStore.FILE), directory.resolve(BINDINGS_V1_BACKUP),
            StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        AtomicFiles.syncDirectory(directory);
      }
    } catch (IOException e) {
      throw new LedgerException(file, "cannot write the lease ledger " + file + " (" + e
          + "); the ledger holds either the previous or the new leases; check free space and "
          + "permissions of "
          + directory, e);
    }
  }
}
