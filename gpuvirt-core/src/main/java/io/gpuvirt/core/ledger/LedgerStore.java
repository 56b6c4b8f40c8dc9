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
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The ledger in a state directory: a snapshot ({@value #LEDGER}) and the journal of the commits
 * made since ({@value LedgerJournal#FILE}, see {@link LedgerJournal}). A commit appends one
 * checksummed record to the journal and fsyncs it (one fsync); every
 * {@value #COMPACT_AFTER_RECORDS} records (or {@value #COMPACT_AFTER_BYTES} bytes) a commit instead
 * writes the whole state as the next snapshot generation and removes the journal. A snapshot is
 * replaced atomically: write a temporary file, fsync it, rename it over the ledger, fsync the
 * directory. A crash at any point leaves the old state or the new one, never a torn one: an append
 * a crash interrupted was never acknowledged and is cut off by the next; a journal left behind by
 * a crash during compaction is of an older generation and ignored. The first commit, the upgrade
 * of an older file and a commit that converts {@code bindings.json} write a snapshot. Writers hold
 * the {@link LedgerLock}; readers need no lock (they read the snapshot, then the journal, and read
 * again if a compaction came between). {@link #compact} folds the journal into the snapshot on
 * request (before reading or editing {@value #LEDGER} by hand).
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
  /** A commit after this many journal records writes a snapshot instead. */
  static final int COMPACT_AFTER_RECORDS = 64;
  /** A commit once the journal has this many bytes writes a snapshot instead. */
  static final long COMPACT_AFTER_BYTES = 1L << 20;
  private static final int READ_ATTEMPTS = 5;

  private final Path directory;
  private final Path file;
  /** The snapshot this store decoded last, by its bytes' CRC-32C and length (never mutated). */
  private volatile Decoded lastSnapshot;
  /** The journal this store parsed last: the next read decodes only what was appended since. */
  private volatile LedgerJournal.Contents lastJournal;

  /** A decoded snapshot and what identifies its bytes. */
  private record Decoded(long crc, int length, TreeMap<String, Lease> leases, long generation) {}

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

  Path journalFile() {
    return directory.resolve(LedgerJournal.FILE);
  }

  /**
   * The committed state as read: the leases, and what the next commit needs to know about the
   * files (the snapshot's bytes, version and generation, and its journal if it has one).
   */
  private record State(TreeMap<String, Lease> leases, byte[] snapshot, long generation,
      Optional<LedgerJournal.Contents> journal) {
    boolean hasSnapshot() {
      return snapshot != null;
    }
  }

  /**
   * Reads the snapshot, then its journal. Unlocked, a journal newer than the snapshot means a
   * compaction ran between the two reads: read again. Locked (no writer can run), it means the
   * snapshot was replaced by an older copy or removed, and is refused.
   */
  private State load(boolean locked) {
    for (int attempt = 1; ; attempt++) {
      byte[] bytes = readBytes();
      TreeMap<String, Lease> snapshot;
      long generation;
      long crc = 0;
      if (bytes == null) {
        snapshot = new TreeMap<>();
        generation = 0;
      } else {
        // Reading the bytes is cheap; decoding them is not: reuse the last decode of these bytes.
        crc = LedgerJournal.crc(bytes);
        Decoded known = lastSnapshot;
        if (known == null || known.crc() != crc || known.length() != bytes.length) {
          known = new Decoded(crc, bytes.length, LedgerCodec.decode(file, bytes),
              LedgerCodec.generation(bytes));
          lastSnapshot = known;
        }
        snapshot = known.leases();
        generation = known.generation();
      }
      Optional<LedgerJournal.Contents> journal = LedgerJournal.read(journalFile(),
          Optional.ofNullable(lastJournal));
      journal.ifPresent(j -> lastJournal = j);
      if (journal.isEmpty() || journal.get().generation() < generation) {
        // none, or one a crash left behind after its records went into this snapshot
        return new State(snapshot, bytes, generation, Optional.empty());
      }
      LedgerJournal.Contents j = journal.get();
      if (j.generation() == generation && bytes != null
          && j.snapshotCrc() == crc) {
        TreeMap<String, Lease> leases = LedgerJournal.replay(snapshot, j);
        LedgerCodec.conflict(leases.values()).ifPresent(what -> {
          throw new LedgerFormatException(journalFile(), "lease journal " + journalFile()
              + " replayed over " + file + " gives conflicting leases: " + what + ". gpuvirt"
              + " will not guess; restore the state directory from a backup", null);
        });
        return new State(leases, bytes, generation, journal);
      }
      if (!locked && attempt < READ_ATTEMPTS) {
        continue;
      }
      String found = bytes == null ? "missing" : j.generation() == generation
          ? "not the file the journal was started on (edited or replaced since)"
          : "generation " + generation + ", older than the journal's " + j.generation();
      throw new LedgerFormatException(file, "the lease ledger " + file + " is " + found
          + ", while " + journalFile() + " holds " + j.records().size() + " commits made after"
          + " the snapshot it was started on. gpuvirt will not guess which leases are true:"
          + " restore the leases.json that belongs to the journal (or the whole state directory"
          + " from a backup). To edit leases.json by hand, first fold the journal into it"
          + " (gpuvirt leases --compact, or LeaseLedger.compact(), with no gpuvirt operation"
          + " running)", null);
    }
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
      State state = load(true);
      TreeMap<String, Lease> leases = new TreeMap<>(state.leases());
      boolean legacy = topology.isPresent() && hasLegacyBindings();
      if (legacy) {
        LegacyBindings.convert(legacyBindings(), topology.get(), leases, now);
      }
      T result = change.apply(leases);
      if (legacy || !leases.equals(state.leases())) {
        commit(state, leases, legacy);
      }
      return result;
    }
  }

  /**
   * Folds the journal into a new snapshot, so that {@value #LEDGER} alone holds every lease (for
   * reading or editing it by hand); nothing when there is no journal.
   *
   * @return how many journal records were folded
   */
  int compact() {
    if (Files.notExists(directory)) {
      return 0;
    }
    try (LedgerLock lock = LedgerLock.acquire(lockFile())) {
      State state = load(true);
      int records = state.journal().map(j -> j.records().size()).orElse(0);
      if (state.journal().isPresent()) {
        writeSnapshot(state, state.leases(), false);
      } else if (Files.exists(journalFile(), LinkOption.NOFOLLOW_LINKS)) {
        removeJournal(); // one a crash left behind, already in the snapshot
      }
      return records;
    }
  }

  /** Commits {@code leases}: one journal record, or a new snapshot when one is due. */
  private void commit(State state, TreeMap<String, Lease> leases, boolean legacy) {
    java.util.Optional<String> conflict = LedgerCodec.conflict(leases.values());
    if (conflict.isPresent()) {
      throw new LedgerException(file, "refusing to write the lease ledger " + file + ": "
          + conflict.get() + "; nothing was written, the ledger keeps its previous leases");
    }
    boolean snapshotDue = legacy || !state.hasSnapshot()
        || LedgerCodec.version(state.snapshot()) < LedgerRecords.VERSION
        || state.journal().map(j -> j.records().size() >= COMPACT_AFTER_RECORDS
            || j.validLength() >= COMPACT_AFTER_BYTES).orElse(false);
    if (snapshotDue) {
      writeSnapshot(state, leases, legacy);
      return;
    }
    List<Lease> put = new ArrayList<>();
    leases.forEach((owner, lease) -> {
      if (!lease.equals(state.leases().get(owner))) {
        put.add(lease);
      }
    });
    List<String> removed = state.leases().keySet().stream().filter(o -> !leases.containsKey(o))
        .toList();
    try {
      if (state.journal().isPresent()) {
        LedgerJournal.Contents j = state.journal().get();
        LedgerJournal.append(journalFile(), j, LedgerJournal.line(j.nextSeq(), put, removed));
      } else {
        LedgerJournal.create(journalFile(), state.generation(),
            LedgerJournal.crc(state.snapshot()), LedgerJournal.line(1, put, removed));
      }
    } catch (IOException e) {
      throw new LedgerException(journalFile(), "cannot append to the lease journal "
          + journalFile() + " (" + e + "); the ledger keeps its previous leases; check free "
          + "space and permissions of " + directory, e);
    }
  }

  /** Writes {@code leases} as the next snapshot generation, then removes the folded journal. */
  private void writeSnapshot(State state, TreeMap<String, Lease> leases, boolean legacy) {
    write(leases.values(), legacy, state.generation() + 1);
    removeJournal();
  }

  private void removeJournal() {
    try {
      LedgerJournal.remove(journalFile());
    } catch (IOException e) {
      // The snapshot is durable and newer than the journal, which every reader ignores now.
      throw new LedgerException(journalFile(), "the lease ledger " + file + " was written, but "
          + "the journal it replaces could not be removed (" + e + "); it is ignored from now "
          + "on; remove " + journalFile() + " by hand", e);
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

  /** The leases on disk (the snapshot and its journal), by owner; none before the first commit. */
  @Override
  public TreeMap<String, Lease> read() {
    return new TreeMap<>(load(false).leases());
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
   * Replaces the ledger with these leases as snapshot {@code generation}, durably (see
   * {@link AtomicFiles}). The first write over
   * a version 1 file keeps a copy of it first. With {@code legacyImported}, the converted
   * {@code bindings.json} is renamed to its backup once the new ledger is durable.
   */
  void write(Collection<Lease> leases, boolean legacyImported, long generation) {
    byte[] bytes = LedgerCodec.encode(leases, generation);
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
