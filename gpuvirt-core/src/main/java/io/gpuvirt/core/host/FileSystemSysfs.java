package io.gpuvirt.core.host;

import io.gpuvirt.core.internal.BoundedFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link Sysfs} over a directory of the local file system.
 *
 * <p>Reads are bounded: only a regular file (or a link to one) is opened; a FIFO, a device, a
 * socket or a directory is refused by name before it is opened (opening a FIFO blocks, reading
 * {@code /dev/zero} never ends). A file under {@code /sys} holds at most {@value #SYSFS_MAX} bytes
 * (a sysfs attribute is at most a page; PCI {@code config} is up to 4096), any other host file
 * ({@code /proc/cmdline}, {@code /etc/modprobe.d/...}) at most {@value #OTHER_MAX} bytes. Anything
 * else raises {@link SysfsFormatException} naming the file.
 *
 * <p>A {@link #directory} view reads relative to the open directory, through the JDK or, under
 * {@code /sys} once loading it pays ({@link ReadPath}), through the C library
 * ({@link NativeDirectory}); both answer exactly as the path-based methods do.
 */
final class FileSystemSysfs implements Sysfs {
  /** The most a file under {@code /sys} may hold: one page. */
  static final int SYSFS_MAX = 4096;
  /** The most any other host file read through the seam may hold: 1 MiB. */
  static final int OTHER_MAX = 1024 * 1024;
  /** The most a database under {@code /usr/share} ({@code pci.ids}, about 1.4 MB) may hold. */
  static final int DATABASE_MAX = 16 * 1024 * 1024;

  /**
   * Directories the process opens through the JDK before it loads the C library for the native
   * reader ({@link NativeDirectory}). Loading JNA costs 55 to 75 ms once (measured on a 2-core
   * machine), and each device directory read the native way saves about 10 µs, so a one-shot
   * scan (the CLI's; every testkit preset has fewer functions) must not load it, while a process
   * that scans again and again, or a host this large, gains from then on.
   */
  static final int NATIVE_AFTER = 512;

  /** How a seam reads directories: {@link #ADAPTIVE} for every seam the API hands out. */
  enum ReadPath {
    /** The JDK, then the C library once the process has opened {@link #NATIVE_AFTER} directories. */
    ADAPTIVE,
    /** The C library whenever it is available (for tests of that path). */
    NATIVE,
    /** The JDK alone. */
    JDK
  }

  /** Directories opened through {@link #directory} by every adaptive seam of the process. */
  private static final AtomicLong OPENED = new AtomicLong();

  private final Path root;
  private final ReadPath readPath;

  FileSystemSysfs(Path root) {
    this(root, ReadPath.ADAPTIVE);
  }

  FileSystemSysfs(Path root, ReadPath readPath) {
    this.readPath = readPath;
    if (!Files.isDirectory(root)) {
      throw new HostAccessException(root.toString(),
          "host root " + root + " is not a directory; pass the directory that holds sys/ and proc/",
          null);
    }
    this.root = root.toAbsolutePath().normalize();
  }

  @Override
  public Path root() {
    return root;
  }

  private Path local(String hostPath) {
    String checked = HostPaths.check(hostPath);
    return checked.length() == 1 ? root : root.resolve(checked.substring(1));
  }

  @Override
  public boolean exists(String path) {
    return Files.exists(local(path));
  }

  @Override
  public boolean isDirectory(String path) {
    return Files.isDirectory(local(path));
  }

  @Override
  public String read(String path) {
    return new String(readBytes(path), StandardCharsets.UTF_8);
  }

  @Override
  public byte[] readBytes(String path) {
    Path file = local(path);
    int max = maxBytes(path);
    try {
      return BoundedFiles.read(file, max);
    } catch (BoundedFiles.RefusedFileException e) {
      throw refused(path, max, e);
    } catch (IOException e) {
      throw failure("reading", path, e);
    }
  }

  /** One {@code stat(2)} (nothing there: empty, as {@link #exists} says), then one read. */
  @Override
  public Optional<String> readIfExists(String path) {
    return readBytesIfExists(path).map(b -> new String(b, StandardCharsets.UTF_8));
  }

  @Override
  public Optional<byte[]> readBytesIfExists(String path) {
    Path file = local(path);
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(file, BasicFileAttributes.class);
    } catch (IOException e) {
      return Optional.empty(); // what exists() calls missing: no entry, a dangling link, a loop
    }
    if (!attributes.isRegularFile()) {
      return Optional.of(readBytes(path)); // refused, naming what it is, as read refuses it
    }
    int max = maxBytes(path);
    try {
      return Optional.of(BoundedFiles.readRegular(file, attributes.size(), max));
    } catch (BoundedFiles.RefusedFileException e) {
      throw refused(path, max, e);
    } catch (IOException e) {
      throw failure("reading", path, e);
    }
  }

  private static int maxBytes(String path) {
    return path.startsWith("/sys/") ? SYSFS_MAX
        : path.startsWith("/usr/share/") ? DATABASE_MAX : OTHER_MAX;
  }

  private static SysfsFormatException refused(String path, int max,
      BoundedFiles.RefusedFileException e) {
    return new SysfsFormatException(path, e.found(), "a regular file of at most " + max
        + " bytes" + (max == SYSFS_MAX ? " (a sysfs attribute is at most a page)" : ""));
  }

  @Override
  public List<String> list(String directory) {
    Path dir = local(directory);
    if (directory.startsWith("/sys/") && nativeReads(true)) {
      Optional<List<String>> listed = NativeDirectory.list(this, directory, dir.toString());
      if (listed.isPresent()) {
        return listed.get();
      }
    }
    String[] fast = dir.toFile().list(); // no Path per entry; null on any failure
    if (fast != null) {
      Arrays.sort(fast);
      return List.of(fast);
    }
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      for (Path entry : entries) {
        names.add(entry.getFileName().toString());
      }
    } catch (IOException e) {
      throw failure("listing", directory, e);
    }
    Collections.sort(names);
    return List.copyOf(names);
  }

  /**
   * The directory opened once ({@code open}, {@code fdopendir}, one listing); entries are looked
   * at with {@code fstatat(2)} and opened with {@code openat(2)} relative to it. Whatever is not a
   * plain regular file there (missing, a FIFO, a directory ...) and every failure goes to the
   * path-based method, which answers or raises exactly as it does without the view.
   */
  @Override
  public Sysfs.Directory directory(String directory) {
    HostPaths.check(directory);
    Path dir = local(directory);
    if (directory.startsWith("/sys/") && nativeReads(true)) {
      Optional<NativeDirectory> opened = NativeDirectory.open(this, directory, dir.toString());
      if (opened.isPresent()) {
        return opened.get();
      }
    }
    try {
      DirectoryStream<Path> stream = Files.newDirectoryStream(dir);
      if (stream instanceof SecureDirectoryStream) {
        return new OpenDirectory(directory, dir.toString(), (SecureDirectoryStream<Path>) stream);
      }
      stream.close();
    } catch (IOException e) {
      // cannot be opened: the path-based methods raise what they raise
    }
    return Sysfs.super.directory(directory);
  }

  /**
   * Whether reads go through the C library now; {@code opening} counts one directory opened
   * toward {@link #NATIVE_AFTER} (a listing or a view), a link read does not.
   */
  private boolean nativeReads(boolean opening) {
    switch (readPath) {
      case NATIVE:
        return nativeAvailable();
      case ADAPTIVE:
        long opened = opening ? OPENED.incrementAndGet() : OPENED.get();
        return opened > NATIVE_AFTER && nativeAvailable();
      default:
        return false;
    }
  }

  /** Whether the C library is bound ({@link LinuxLibc#AVAILABLE}); false when JNA is missing. */
  static boolean nativeAvailable() {
    try {
      return LinuxLibc.AVAILABLE;
    } catch (LinkageError e) {
      return false; // JNA is not on the class path or module path
    }
  }

  private static final Set<StandardOpenOption> READ_ONLY = Set.of(StandardOpenOption.READ);

  /**
   * The host path of the entry {@code name} of the checked {@code directory}; a name that is not
   * one plain segment is refused as {@link HostPaths#join} refuses it.
   */
  static String entryPath(String directory, String name) {
    return isPlainName(name) ? directory + "/" + name : HostPaths.join(directory, name);
  }

  /** Whether {@code name} is one path segment that {@link HostPaths#join} accepts as it is. */
  static boolean isPlainName(String name) {
    if (name.isEmpty() || name.equals(".") || name.equals("..")) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '/' || c == '\0' || c == '\n' || c == '\r' || c == '\\') {
        return false;
      }
    }
    return true;
  }

  /** A directory held open: reads relative to it, the path-based methods for anything else. */
  private final class OpenDirectory implements Sysfs.Directory {
    private final String directory;
    private final SecureDirectoryStream<Path> stream;
    private final Optional<List<String>> names;

    OpenDirectory(String directory, String local, SecureDirectoryStream<Path> stream) {
      this.directory = directory;
      this.stream = stream;
      Optional<List<String>> listed;
      try {
        List<String> list = new ArrayList<>();
        int cut = local.length() + 1;
        for (Path entry : stream) {
          // each entry is local/name: cutting the string is cheaper than getFileName()
          String whole = entry.toString();
          list.add(whole.length() > cut && whole.startsWith(local) && whole.charAt(cut - 1) == '/'
              ? whole.substring(cut) : entry.getFileName().toString());
        }
        Collections.sort(list);
        listed = Optional.of(List.copyOf(list));
      } catch (DirectoryIteratorException e) {
        listed = Optional.empty(); // list() asks the path-based way, for its exact error
      }
      this.names = listed;
    }

    @Override
    public List<String> list() {
      return names.isPresent() ? names.get() : FileSystemSysfs.this.list(directory);
    }

    @Override
    public boolean exists(String name) {
      return FileSystemSysfs.this.exists(path(name));
    }

    @Override
    public String read(String name) {
      return new String(readBytes(name), StandardCharsets.UTF_8);
    }

    private byte[] readBytes(String name) {
      String path = path(name);
      Path entry = Path.of(name);
      Optional<BasicFileAttributes> regular = regularFile(entry);
      return regular.isPresent() ? relative(path, entry, regular.get())
          : FileSystemSysfs.this.readBytes(path);
    }

    /** The host path of the entry; a name that is not one plain segment is refused as join does. */
    private String path(String name) {
      return entryPath(directory, name);
    }

    @Override
    public Optional<String> readIfExists(String name) {
      return readBytesIfExists(name).map(b -> new String(b, StandardCharsets.UTF_8));
    }

    @Override
    public Optional<byte[]> readBytesIfExists(String name) {
      String path = path(name);
      Path entry = Path.of(name);
      Optional<BasicFileAttributes> regular = regularFile(entry);
      return regular.isPresent() ? Optional.of(relative(path, entry, regular.get()))
          : FileSystemSysfs.this.readBytesIfExists(path);
    }

    @Override
    public Optional<String> readLink(String name) {
      // the JDK reads no link relative to a directory stream: the path-based way
      return FileSystemSysfs.this.readLink(path(name));
    }

    /** The attributes of the entry when it is, or links to, a regular file; one fstatat(2). */
    private Optional<BasicFileAttributes> regularFile(Path entry) {
      try {
        BasicFileAttributes a = stream.getFileAttributeView(entry,
            BasicFileAttributeView.class).readAttributes();
        return a.isRegularFile() ? Optional.of(a) : Optional.empty();
      } catch (IOException | RuntimeException e) {
        return Optional.empty();
      }
    }

    private byte[] relative(String path, Path entry, BasicFileAttributes attributes) {
      int max = maxBytes(path);
      try (SeekableByteChannel channel = stream.newByteChannel(entry, READ_ONLY)) {
        return BoundedFiles.readAll(channel, path, attributes.size(), max);
      } catch (BoundedFiles.RefusedFileException e) {
        throw refused(path, max, e);
      } catch (IOException e) {
        throw failure("reading", path, e);
      }
    }

    @Override
    public void close() {
      try {
        stream.close();
      } catch (IOException e) {
        // nothing was written: closing a directory cannot lose data
      }
    }
  }

  /** One {@code readlink(2)}: not a link (EINVAL) and nothing there are both empty. */
  @Override
  public Optional<String> readLink(String path) {
    Path p = local(path);
    if (path.startsWith("/sys/") && nativeReads(false)) {
      NativeDirectory.Link link = NativeDirectory.readLinkPath(p.toString());
      if (link.known()) {
        return link.target();
      }
    }
    try {
      return Optional.of(Files.readSymbolicLink(p).toString());
    } catch (NotLinkException | NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      if (!Files.isSymbolicLink(p)) {
        return Optional.empty(); // as before: what is not (or not reachable as) a link
      }
      throw failure("reading link", path, e);
    }
  }

  @Override
  public String canonicalPath(String path) {
    try {
      Path real = local(path).toRealPath();
      Path realRoot = root.toRealPath();
      if (!real.startsWith(realRoot)) {
        throw new HostAccessException(path, "host path " + path + " resolves to " + real
            + ", outside the host root " + root + "; the tree holds a link that escapes it", null);
      }
      Path relative = realRoot.relativize(real);
      return relative.toString().isEmpty() ? "/" : "/" + relative.toString().replace('\\', '/');
    } catch (IOException e) {
      throw failure("resolving", path, e);
    }
  }

  @Override
  public void write(String path, String value) {
    Path p = local(path);
    // No CREATE: like sysfs, a missing attribute is an error, not a new file. One write() call.
    try (OutputStream out =
        Files.newOutputStream(p, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      out.write(value.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw failure("writing '" + value.strip() + "' to", path, e);
    }
  }

  private HostAccessException failure(String action, String path, IOException e) {
    String reason;
    if (e instanceof NoSuchFileException) {
      reason = "no such file or directory";
    } else if (e instanceof FileSystemException && ((FileSystemException) e).getReason() != null) {
      reason = ((FileSystemException) e).getReason();
    } else {
      reason = String.valueOf(e.getMessage());
    }
    return new HostAccessException(path, action + " " + path + " failed: " + reason
        + " (host root " + root + ")", e);
  }
}
