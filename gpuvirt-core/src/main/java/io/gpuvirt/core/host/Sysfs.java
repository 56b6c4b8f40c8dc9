package io.gpuvirt.core.host;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The seam through which gpuvirt reads and writes the host: {@code /sys}, {@code /proc/cmdline},
 * {@code /etc/modprobe.d} and friends, under a host root directory ({@code /} on a real host, a
 * directory on a simulated one).
 *
 * <p>Paths are <em>host paths</em>: absolute, slash-separated, as they would be on the host
 * ({@code /sys/bus/pci/devices/0000:17:00.0/vendor}). They are resolved against {@link #root()}. A
 * path with a {@code ..} or {@code .} segment, an empty segment, a NUL or a newline is refused before
 * any file is touched. Nothing else in gpuvirt touches host files.
 *
 * <p>Errors: an I/O failure raises {@link HostAccessException} with the path and the kernel's reason
 * (EBUSY, ENODEV, ENOENT ...) kept as the cause.
 *
 * <p>Threads: a seam is shared by the threads of a platform, and the topology scanner reads a
 * large host from several threads at once, so an implementation must allow concurrent calls, and
 * so must its {@link Directory} views.
 */
public interface Sysfs {

  /** The real host: root {@code /}. */
  static Sysfs host() {
    return at(Path.of("/"));
  }

  /**
   * A host whose root is {@code root} (a simulated host written by the testkit, or a chroot).
   *
   * <p>It reads through the JDK. On 64-bit Linux (x86-64, aarch64) with glibc 2.30 or later, once
   * the process has opened {@value FileSystemSysfs#NATIVE_AFTER} directories through
   * {@link #directory} or {@link #list} (a large host, or a few scans of any host), directories
   * and links under {@code /sys} are read through the C library instead (JNA, loaded then, once
   * per process): the same answers and errors with about a third fewer system calls. A one-shot
   * scan, such as the CLI's, never pays for loading the native library.
   */
  static Sysfs at(Path root) {
    return new FileSystemSysfs(root);
  }

  /** The host root directory this seam reads from. */
  Path root();

  /** Whether the path exists (following symbolic links). */
  boolean exists(String path);

  /** Whether the path is a directory (following symbolic links). */
  boolean isDirectory(String path);

  /** The whole content of a file as text. */
  String read(String path);

  /** The whole content of a binary file (PCI {@code config}). */
  byte[] readBytes(String path);

  /**
   * The whole content of a file as text, or empty when {@link #exists} would say there is nothing
   * at the path (no entry, or a link that does not resolve): {@code exists} then {@code read} in
   * one call, for optional attributes. What is there but cannot be read is an error, as for
   * {@link #read}.
   *
   * <p>The default implementation is {@code exists(path) ? Optional.of(read(path)) :
   * Optional.empty()}; the file-system seam overrides it with one {@code stat(2)} and one read.
   */
  default Optional<String> readIfExists(String path) {
    return exists(path) ? Optional.of(read(path)) : Optional.empty();
  }

  /**
   * The whole content of a binary file, or empty when {@link #exists} would say there is nothing
   * at the path; {@link #readIfExists} for {@link #readBytes}.
   */
  default Optional<byte[]> readBytesIfExists(String path) {
    return exists(path) ? Optional.of(readBytes(path)) : Optional.empty();
  }

  /**
   * A view of {@code directory} for reading several of its entries (the attributes of one
   * device): each call gives exactly what the path-based call on {@code directory + "/" + name}
   * gives, with the same errors naming that host path. Close it when done; it holds the directory
   * open.
   *
   * <pre>{@code
   * try (Sysfs.Directory d = sysfs.directory("/sys/bus/pci/devices/0000:17:00.0")) {
   *   String vendor = d.read("vendor");
   * }
   * }</pre>
   *
   * <p>The default implementation calls the path-based methods; the file-system seam opens the
   * directory once and reads relative to it, so that the kernel does not walk the whole path,
   * links included, for each entry: through the JDK ({@code fstatat(2)} and {@code openat(2)} on
   * the directory), or, for a directory under {@code /sys} once the process has opened enough of
   * them to repay loading it, through the C library (JNA), with three calls per attribute instead
   * of five (see {@link #at}). Opening does not touch the host's errors: a directory that cannot
   * be opened answers through the path-based methods, which raise what they raise.
   *
   * @throws IllegalHostPathException when {@code directory} is not a well-formed host path
   */
  default Directory directory(String directory) {
    HostPaths.check(directory);
    return new Directory() {
      @Override
      public List<String> list() {
        return Sysfs.this.list(directory);
      }

      @Override
      public boolean exists(String name) {
        return Sysfs.this.exists(HostPaths.join(directory, name));
      }

      @Override
      public String read(String name) {
        return Sysfs.this.read(HostPaths.join(directory, name));
      }

      @Override
      public Optional<String> readIfExists(String name) {
        return Sysfs.this.readIfExists(HostPaths.join(directory, name));
      }

      @Override
      public Optional<byte[]> readBytesIfExists(String name) {
        return Sysfs.this.readBytesIfExists(HostPaths.join(directory, name));
      }

      @Override
      public Optional<String> readLink(String name) {
        return Sysfs.this.readLink(HostPaths.join(directory, name));
      }

      @Override
      public void close() {}
    };
  }

  /**
   * One directory opened for several reads ({@link Sysfs#directory}); each method is the
   * path-based method of the same name on the entry {@code name} of the directory. Like the seam,
   * a view must allow several threads to read through it at once (the scanner's threads share its
   * view of {@code /sys/bus/pci/devices}); it is closed after the last read.
   */
  interface Directory extends AutoCloseable {
    /** {@link Sysfs#list} of the directory. */
    List<String> list();

    /** {@link Sysfs#exists} of the entry {@code name}. */
    boolean exists(String name);

    /** {@link Sysfs#read} of the entry {@code name}. */
    String read(String name);

    /** {@link Sysfs#readIfExists} of the entry {@code name}. */
    Optional<String> readIfExists(String name);

    /** {@link Sysfs#readBytesIfExists} of the entry {@code name}. */
    Optional<byte[]> readBytesIfExists(String name);

    /** {@link Sysfs#readLink} of the entry {@code name}. */
    Optional<String> readLink(String name);

    /** Releases the directory; no I/O error escapes. */
    @Override
    void close();
  }

  /** The names of the entries in a directory, sorted. A missing directory is an error. */
  List<String> list(String directory);

  /** The target of a symbolic link as written in the link; empty when the path is not a link. */
  Optional<String> readLink(String path);

  /**
   * The canonical host path of {@code path}: every symbolic link resolved, still relative to the
   * root ({@code /sys/bus/pci/devices/0000:17:00.0} becomes
   * {@code /sys/devices/pci0000:14/0000:14:02.0/.../0000:17:00.0}).
   */
  String canonicalPath(String path);

  /**
   * Writes {@code value} to an existing file in one write, as the kernel expects of sysfs attributes.
   * The file is not created if it does not exist: writing to a driver that is not loaded fails the
   * way it fails on Linux.
   */
  void write(String path, String value);
}
