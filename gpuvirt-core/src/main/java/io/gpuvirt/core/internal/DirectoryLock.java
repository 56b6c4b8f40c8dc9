package io.gpuvirt.core.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Exclusive access to a state directory through one lock file: an in-process lock first (a
 * {@link FileLock} is held per JVM, so it cannot order threads), then an OS lock on the file
 * (orders processes). Not reentrant across the two: one operation takes it once.
 *
 * <p>Not part of the API: the package is not exported.
 */
public final class DirectoryLock implements AutoCloseable {
  private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();
  /**
   * The key of each lock file path seen (as given, absolute and normalised), so that an acquire
   * resolves the real path of its directory once, not on every call. Only paths whose directory
   * existed are kept.
   */
  private static final ConcurrentHashMap<Path, Path> KEYS = new ConcurrentHashMap<>();

  private final ReentrantLock threadLock;
  private final FileChannel channel;
  private final FileLock fileLock;

  private DirectoryLock(ReentrantLock threadLock, FileChannel channel, FileLock fileLock) {
    this.threadLock = threadLock;
    this.channel = channel;
    this.fileLock = fileLock;
  }

  /**
   * Waits for and takes the lock whose lock file is {@code lockFile} (created if missing).
   *
   * @throws IOException if the lock file cannot be opened or locked; nothing is held then
   */
  public static DirectoryLock acquire(Path lockFile) throws IOException {
    ReentrantLock threadLock = IN_PROCESS.computeIfAbsent(key(lockFile), k -> new ReentrantLock());
    if (threadLock.isHeldByCurrentThread()) {
      // A second FileChannel lock in this JVM would throw, and closing that channel would drop
      // the OS lock the caller already holds: refuse before touching the file.
      throw new IllegalStateException("lock " + lockFile + " is already held by this thread;"
          + " it is not reentrant");
    }
    threadLock.lock();
    FileChannel channel = null;
    try {
      channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      return new DirectoryLock(threadLock, channel, channel.lock());
    } catch (IOException | RuntimeException e) {
      closeQuietly(channel);
      threadLock.unlock();
      throw e;
    }
  }

  /**
   * What identifies the lock file {@code lockFile} in this JVM: its path with the directory's
   * real path, so that two spellings of one directory (a symbolic link, {@code ..}) share one
   * in-process lock. Resolved once per spelling while its directory exists.
   *
   * @throws IOException if the directory exists but its real path cannot be resolved
   */
  public static Path key(Path lockFile) throws IOException {
    Path absolute = lockFile.toAbsolutePath().normalize();
    Path known = KEYS.get(absolute);
    if (known != null) {
      return known;
    }
    Path parent = absolute.getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      return absolute;
    }
    Path key = parent.toRealPath().resolve(absolute.getFileName());
    KEYS.put(absolute, key);
    return key;
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
