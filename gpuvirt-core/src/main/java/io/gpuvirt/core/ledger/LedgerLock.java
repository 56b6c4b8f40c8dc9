package io.gpuvirt.core.ledger;

import io.gpuvirt.core.internal.DirectoryLock;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Exclusive access to one state directory: an in-process lock, then an OS lock on the directory's
 * lock file (see {@link DirectoryLock}). Not reentrant: one operation takes it once.
 */
final class LedgerLock implements AutoCloseable {
  private final DirectoryLock lock;

  private LedgerLock(DirectoryLock lock) {
    this.lock = lock;
  }

  /** Waits for and takes the lock of the state directory whose lock file is {@code lockFile}. */
  static LedgerLock acquire(Path lockFile) {
    try {
      return new LedgerLock(DirectoryLock.acquire(lockFile));
    } catch (IOException | RuntimeException e) {
      throw new LedgerException(lockFile, "cannot lock the lease ledger: " + lockFile + " ("
          + e + "); check that the state directory is writable by this user", e);
    }
  }

  @Override
  public void close() {
    lock.close();
  }
}
