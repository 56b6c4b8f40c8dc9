package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.internal.AtomicFiles;
import io.gpuvirt.core.internal.BoundedFiles;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.TreeMap;

/**
 * The ledger file in a state directory. Writes replace it atomically: write a temporary file, fsync
 * it, rename it over the ledger, fsync the directory. A crash at any point leaves the old file or
 * the new one, never a torn one; a leftover temporary file is overwritten by the next write.
 * Callers hold the {@link LedgerLock}.
 */
final class LedgerStore {
  static final String LEDGER = "leases.json";
  static final String TEMP = LEDGER + AtomicFiles.TEMP_SUFFIX;
  static final String LOCK = "leases.lock";

  private final Path directory;
  private final Path file;

  LedgerStore(Path directory) {
    this.directory = directory;
    this.file = directory.resolve(LEDGER);
  }

  Path file() {
    return file;
  }

  Path lockFile() {
    return directory.resolve(LOCK);
  }

  /** The leases on disk, by owner; none when there is no ledger file yet. */
  TreeMap<String, Lease> read() {
    byte[] bytes;
    try {
      bytes = BoundedFiles.read(file, BoundedFiles.STATE_FILE_MAX);
    } catch (NoSuchFileException e) {
      return new TreeMap<>();
    } catch (BoundedFiles.RefusedFileException e) {
      throw new LedgerFormatException(file, "refusing the lease ledger " + file + ": it is "
          + e.found() + ", not a ledger file; restore leases.json from a backup", e);
    } catch (IOException e) {
      throw new LedgerException(file, "cannot read the lease ledger " + file + " (" + e
          + "); check its permissions", e);
    }
    return LedgerCodec.decode(file, bytes);
  }

  /** Replaces the ledger with these leases, durably (see {@link AtomicFiles}). */
  void write(Collection<Lease> leases) {
    byte[] bytes = LedgerCodec.encode(leases);
    try {
      AtomicFiles.replace(file, bytes);
    } catch (IOException e) {
      throw new LedgerException(file, "cannot write the lease ledger " + file + " (" + e
          + "); the ledger holds either the previous or the new leases; check free space and "
          + "permissions of "
          + directory, e);
    }
  }
}
