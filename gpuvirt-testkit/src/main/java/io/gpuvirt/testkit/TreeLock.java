package io.gpuvirt.testkit;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Serialises changes to one host tree: a lock per root within this JVM (file locks are held per
 * process) plus an exclusive lock on {@code .gpuvirt.lock} in the root for other processes.
 */
final class TreeLock {
  private static final ConcurrentHashMap<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();

  /** Work done while holding the lock. */
  interface Action<T> {
    T run() throws IOException;
  }

  private TreeLock() {}

  static <T> T with(Path root, Action<T> action) throws IOException {
    ReentrantLock local = LOCKS.computeIfAbsent(root, k -> new ReentrantLock());
    local.lock();
    try {
      if (local.getHoldCount() > 1) {
        return action.run();
      }
      try (FileChannel channel = FileChannel.open(root.resolve(HostTree.LOCK_FILE),
          StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        FileLock lock = channel.lock();
        try {
          return action.run();
        } finally {
          lock.release();
        }
      }
    } finally {
      local.unlock();
    }
  }
}
