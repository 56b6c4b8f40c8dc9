package io.gpuvirt.core.ledger;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Exclusive access to one state directory: an in-process lock (a {@link FileLock} is held per JVM,
 * so it cannot order threads) and then an OS lock on the directory's lock file (orders processes).
 * Not reentrant across the two: one operation takes it once.
 */
final class LedgerLock implements AutoCloseable {
  private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

  private final ReentrantLock threadLock;
  private final FileChannel channel;
  private final FileLock fileLock;

  private LedgerLock(ReentrantLock threadLock, FileChannel channel, FileLock fileLock) {
    this.threadLock = threadLock;
    this.channel = channel;
    this.fileLock = fileLock;
  }

  /** Waits for and takes the lock of the state directory whose lock file is {@code lockFile}. */
  static LedgerLock acquire(Path lockFile) {
    ReentrantLock threadLock = IN_PROCESS.computeIfAbsent(lockFile, k -> new ReentrantLock());
    threadLock.lock();
    FileChannel channel = null;
    try {
      channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      return new LedgerLock(threadLock, channel, channel.lock());
    } catch (IOException | RuntimeException e) {
      closeQuietly(channel);
      threadLock.unlock();
      throw new LedgerException(lockFile, "cannot lock the lease ledger: " + lockFile + " ("
          + e + "); check that the state directory is writable by this user", e);
    }
  }

  @Override
  public void close() {
    try {
      fileLock.release();
    } catch (IOException e) {
      // closing the channel below releases it too
    } finally {
      closeQuietly(channel);
      threadLock.unlock();
    }
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // nothing left to release
      }
    }
  }
}
