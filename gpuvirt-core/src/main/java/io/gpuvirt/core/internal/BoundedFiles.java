package io.gpuvirt.core.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Reads a whole file of bounded size, refusing anything that is not a regular file before it is
 * opened: a FIFO (opening one blocks until a writer comes), a character or block device
 * ({@code /dev/zero} never ends), a socket or a directory. A symbolic link is followed; a link that
 * resolves to a regular file is read like one, a dangling link or a loop is refused.
 *
 * <p>The type is checked, then the file is opened: a file swapped for a FIFO between the two is
 * not caught (Java cannot open with {@code O_NONBLOCK}); the size bound still holds for whatever is
 * read.
 *
 * <p>Not part of the API: the package is not exported.
 */
public final class BoundedFiles {
  /**
   * The most a gpuvirt state file (lease ledger, binding store, module-id map) may hold: 64 MiB,
   * far beyond any real ledger (a lease is about 1 KiB) and small enough to read into memory.
   */
  public static final long STATE_FILE_MAX = 64L * 1024 * 1024;

  private BoundedFiles() {}

  /**
   * A file was refused before or while it was read: it is not a regular file, a link that does not
   * resolve to one, or longer than the bound. The message says which, naming the file.
   */
  public static final class RefusedFileException extends IOException {
    private static final long serialVersionUID = 1L;
    private final String found;

    RefusedFileException(Path file, String found) {
      super(file + " is " + found + "; expected a regular file");
      this.found = found;
    }

    /** What was found instead of a regular file of bounded size ("a FIFO", "longer than ..."). */
    public String found() {
      return found;
    }
  }

  /**
   * The whole content of {@code file}, at most {@code max} bytes.
   *
   * @throws NoSuchFileException when nothing is at {@code file} (not even a dangling link)
   * @throws RefusedFileException when it is not a regular file, a link that does not resolve to
   *     one, or longer than {@code max} bytes
   * @throws IOException when it cannot be read
   */
  public static byte[] read(Path file, long max) throws IOException {
    requireRegularFile(file);
    try (InputStream in = Files.newInputStream(file)) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      long total = 0;
      int n;
      while ((n = in.read(buffer, 0, (int) Math.min(buffer.length, max - total + 1))) > 0) {
        total += n;
        if (total > max) {
          throw new RefusedFileException(file, "longer than " + max + " bytes");
        }
        out.write(buffer, 0, n);
      }
      return out.toByteArray();
    }
  }

  /**
   * Checks that {@code file} is, or links to, a regular file, without opening it.
   *
   * @throws NoSuchFileException when nothing is at {@code file} (not even a dangling link)
   * @throws RefusedFileException naming what it is instead
   */
  public static void requireRegularFile(Path file) throws IOException {
    BasicFileAttributes own = Files.readAttributes(file, BasicFileAttributes.class,
        LinkOption.NOFOLLOW_LINKS); // NoSuchFileException: nothing there
    BasicFileAttributes target;
    try {
      target = own.isSymbolicLink() ? Files.readAttributes(file, BasicFileAttributes.class) : own;
    } catch (NoSuchFileException e) {
      throw new RefusedFileException(file, "a dangling symbolic link (to " + linkTarget(file)
          + ")");
    } catch (FileSystemException e) {
      throw new RefusedFileException(file, "a symbolic link that does not resolve ("
          + (e.getReason() == null ? e.toString() : e.getReason()) + ")");
    }
    if (!target.isRegularFile()) {
      throw new RefusedFileException(file, (own.isSymbolicLink() ? "a symbolic link to " : "")
          + kind(file, target));
    }
  }

  /** "a directory", "a FIFO", "a character device" ... for a message. */
  private static String kind(Path file, BasicFileAttributes attributes) {
    if (attributes.isDirectory()) {
      return "a directory";
    }
    try {
      int type = ((Integer) Files.getAttribute(file, "unix:mode")) & 0170000;
      switch (type) {
        case 0010000: return "a FIFO";
        case 0020000: return "a character device";
        case 0060000: return "a block device";
        case 0140000: return "a socket";
        default: break;
      }
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException
        | ClassCastException e) {
      // no unix view: fall through to the generic word
    }
    return "a special file";
  }

  private static String linkTarget(Path link) {
    try {
      return Files.readSymbolicLink(link).toString();
    } catch (IOException e) {
      return "?";
    }
  }
}
