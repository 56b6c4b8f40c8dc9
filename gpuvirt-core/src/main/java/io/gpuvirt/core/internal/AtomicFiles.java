package io.gpuvirt.core.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Durable, atomic replacement of a small state file: write a temporary file next to it
 * ({@code <name>.tmp}), fsync it, rename it over the file, fsync the directory. A crash at any
 * point leaves the old file or the new one, never a torn one; a leftover temporary file is
 * overwritten by the next write. Callers serialise writers (see {@link DirectoryLock}).
 *
 * <p>Not part of the API: the package is not exported.
 */
public final class AtomicFiles {
  /** The suffix of the temporary file. */
  public static final String TEMP_SUFFIX = ".tmp";

  private AtomicFiles() {}

  /**
   * Replaces {@code file} with {@code bytes}, durably.
   *
   * @throws IOException if any step fails; the file then holds its previous content
   */
  public static void replace(Path file, byte[] bytes) throws IOException {
    Path directory = file.toAbsolutePath().getParent();
    Path temp = directory.resolve(file.getFileName() + TEMP_SUFFIX);
    try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE,
        StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        out.write(buffer);
      }
      out.force(true);
    }
    Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    syncDirectory(directory);
  }

  /** Makes a rename in {@code directory} durable (fsync of the directory). */
  public static void syncDirectory(Path directory) throws IOException {
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    }
  }
}
