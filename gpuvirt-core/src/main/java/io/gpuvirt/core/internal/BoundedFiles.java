package io.gpuvirt.core.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;

/**
 * Reads a whole file of bounded size, refusing anything that is not a regular file before it is
 * opened: a FIFO (opening one blocks until a writer comes), a character or block device
 * ({@code /dev/zero} never ends), a socket or a directory. A symbolic link is followed; a link that
 * resolves to a regular file is read like one, a dangling link or a loop is refused.
 *
 * <p>One {@code stat(2)} checks the type, then the file is opened and read (usually in one
 * {@code read(2)}). A file swapped for a FIFO between the two is not caught (Java cannot open
 * with {@code O_NONBLOCK}); the size bound still holds for whatever is read.
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
      this(file.toString(), found);
    }

    RefusedFileException(String file, String found) {
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
    return readRegular(file, regularFile(file).size(), max);
  }

  /**
   * The attributes of {@code file}, which is, or links to, a regular file: one {@code stat(2)}
   * that follows links. Anything else is refused exactly as {@link #requireRegularFile} refuses
   * it (which then looks closer, for the message).
   *
   * @throws NoSuchFileException when nothing is at {@code file} (not even a dangling link)
   * @throws RefusedFileException naming what it is instead
   * @throws IOException when its attributes cannot be read
   */
  public static BasicFileAttributes regularFile(Path file) throws IOException {
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(file, BasicFileAttributes.class);
    } catch (IOException e) {
      requireRegularFile(file); // the exact refusal: nothing there, a dangling link, a loop
      throw e; // it resolves now: the tree changed between the two looks
    }
    if (!attributes.isRegularFile()) {
      requireRegularFile(file); // a FIFO, a device, a directory ...: named
      throw new RefusedFileException(file, "not a regular file");
    }
    return attributes;
  }

  /**
   * The whole content of the regular file {@code file} (checked by the caller, as
   * {@link #regularFile} does) whose {@code stat(2)} size was {@code size}, at most {@code max}
   * bytes. When the first {@code read(2)} returns the whole announced size, that is the file: no
   * second read to see end of file (a file whose size the kernel does not know, such as a
   * {@code /proc} file or a sysfs text attribute, is read until a read returns end of file).
   *
   * @throws RefusedFileException when it is longer than {@code max} bytes
   * @throws IOException when it cannot be opened or read
   */
  public static byte[] readRegular(Path file, long size, long max) throws IOException {
    try (SeekableByteChannel channel = Files.newByteChannel(file)) {
      return readAll(channel, file.toString(), size, max);
    }
  }

  /**
   * {@link #readRegular} of a file already opened as {@code channel} (relative to a directory, say);
   * {@code file} names it in a refusal. The channel is left open.
   */
  public static byte[] readAll(SeekableByteChannel channel, String file, long size, long max)
      throws IOException {
    long first = size > 0 ? Math.min(size, max) + 1 : Math.min(max + 1, 8192);
    ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(first, Integer.MAX_VALUE - 8));
    while (true) {
      if (!buffer.hasRemaining()) {
        long grown = Math.min(max + 1, 2L * buffer.capacity());
        buffer = ByteBuffer.allocate((int) Math.min(grown, Integer.MAX_VALUE - 8))
            .put(buffer.flip());
      }
      int n = channel.read(buffer);
      if (n < 0) {
        break;
      }
      if (buffer.position() > max) {
        throw new RefusedFileException(file, "longer than " + max + " bytes");
      }
      if (buffer.position() == size) {
        break; // the whole announced size in hand
      }
    }
    return Arrays.copyOf(buffer.array(), buffer.position());
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
