package io.gpuvirt.core.host;

import com.sun.jna.Memory;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A sysfs directory held open through the C library ({@link LinuxLibc}), the fast path of
 * {@link FileSystemSysfs#directory}: one {@code openat(2)} and a {@code getdents64(2)} listing that
 * also gives each entry's type, then three calls per attribute ({@code openat}, one {@code read},
 * {@code close}) where the JDK needs five ({@code stat} to refuse a FIFO, which Java cannot open
 * without blocking, {@code openat}, a read, and the JDK's own).
 *
 * <p>Only an entry the listing calls a regular file is opened here, with {@code O_NOFOLLOW},
 * {@code O_NONBLOCK} and {@code O_NOCTTY}: if it was swapped for a link since the listing, the
 * open fails; for a FIFO, it does not block, and the read finds nothing. A read shorter than
 * asked is the whole attribute (sysfs returns an attribute, at most a page, in one read; a
 * regular file returns less than asked only at its end). Everything else goes to the path-based
 * method of {@link FileSystemSysfs}, which answers or raises exactly as it does without this
 * view: a link, a FIFO, a directory, a name not listed, a read that finds nothing (an empty file,
 * or that FIFO), a file longer than a page, any failed call. So this view never answers
 * differently; it answers with fewer calls.
 *
 * <p>Used for directories under {@code /sys} only, whose files hold at most
 * {@link FileSystemSysfs#SYSFS_MAX} bytes. Several threads may read through one instance at once
 * (the scanner's threads share {@code /sys/bus/pci/devices}); it is closed after the last read.
 */
final class NativeDirectory implements Sysfs.Directory {
  /** {@code d_type} values of {@code linux_dirent64}. */
  private static final byte DT_DIR = 4;
  private static final byte DT_REG = 8;
  /** {@code linux_dirent64}: {@code d_ino} (8), {@code d_off} (8), {@code d_reclen} (2), type, name. */
  private static final int RECLEN = 16;
  private static final int TYPE = 18;
  private static final int NAME = 19;
  private static final boolean LITTLE_ENDIAN =
      java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN;

  /** A page and one byte (to see a file longer than a page), and room for many directory entries. */
  private static final int BUFFER = 32 * 1024;
  private static final ThreadLocal<Memory> BUFFERS = ThreadLocal.withInitial(() -> new Memory(BUFFER));

  private static final int DIRECTORY_FLAGS =
      LinuxLibc.O_RDONLY | LinuxLibc.O_DIRECTORY | LinuxLibc.O_CLOEXEC;
  private static final int FILE_FLAGS = LinuxLibc.O_RDONLY | LinuxLibc.O_NOFOLLOW
      | LinuxLibc.O_NONBLOCK | LinuxLibc.O_NOCTTY | LinuxLibc.O_CLOEXEC;

  private final FileSystemSysfs sysfs;
  private final String directory;
  private int fd;
  /** The listing, sorted, and each name's {@code d_type}; empty when the listing failed. */
  private final Optional<List<String>> names;
  private final byte[] types;

  private NativeDirectory(FileSystemSysfs sysfs, String directory, int fd,
      Optional<List<String>> names, byte[] types) {
    this.sysfs = sysfs;
    this.directory = directory;
    this.fd = fd;
    this.names = names;
    this.types = types;
  }

  /**
   * The directory {@code directory} (a checked host path under {@code /sys}) at {@code local},
   * opened and listed; empty when it cannot be opened (the caller then uses another view, whose
   * path-based methods raise what they raise).
   */
  static Optional<NativeDirectory> open(FileSystemSysfs sysfs, String directory, String local) {
    int fd = LinuxLibc.openat(LinuxLibc.AT_FDCWD, cString(local), DIRECTORY_FLAGS);
    if (fd < 0) {
      return Optional.empty();
    }
    Memory buffer = BUFFERS.get();
    String[] found = new String[32];
    byte[] foundTypes = new byte[32];
    int count = 0;
    boolean listed = true;
    while (listed) {
      long n = LinuxLibc.getdents64(fd, buffer, BUFFER);
      if (n <= 0) {
        listed = n == 0;
        break;
      }
      // one copy out of native memory, then the records are parsed here: a native call for each
      // field of each entry cost 1.8 µs of the 16.6 µs a device directory took (measured)
      byte[] records = buffer.getByteArray(0, (int) n);
      for (int at = 0; at < n; ) {
        int length = (records[at + RECLEN] & 0xff) << (LITTLE_ENDIAN ? 0 : 8)
            | (records[at + RECLEN + 1] & 0xff) << (LITTLE_ENDIAN ? 8 : 0);
        int end = at + NAME;
        while (end < at + length && end < n && records[end] != 0) {
          end++;
        }
        if (length <= NAME || at + length > n || end >= at + length) {
          listed = false; // not a record the kernel writes: ask the JDK
          break;
        }
        boolean dots = records[at + NAME] == '.'
            && (end == at + NAME + 1 || (end == at + NAME + 2 && records[at + NAME + 1] == '.'));
        if (!dots) {
          if (count == found.length) {
            found = Arrays.copyOf(found, count * 2);
            foundTypes = Arrays.copyOf(foundTypes, count * 2);
          }
          found[count] = new String(records, at + NAME, end - at - NAME, StandardCharsets.UTF_8);
          foundTypes[count] = records[at + TYPE];
          count++;
        }
        at += length;
      }
    }
    if (!listed) {
      return Optional.of(new NativeDirectory(sysfs, directory, fd, Optional.empty(), new byte[0]));
    }
    Integer[] order = new Integer[count];
    for (int i = 0; i < count; i++) {
      order[i] = i;
    }
    String[] unsorted = found;
    Arrays.sort(order, (x, y) -> unsorted[x].compareTo(unsorted[y]));
    String[] sorted = new String[count];
    byte[] types = new byte[count];
    for (int i = 0; i < count; i++) {
      sorted[i] = found[order[i]];
      types[i] = foundTypes[order[i]];
    }
    return Optional.of(new NativeDirectory(sysfs, directory, fd, Optional.of(List.of(sorted)),
        types));
  }

  /**
   * The sorted names in {@code directory} (under {@code /sys}) at {@code local}, listed the way
   * {@link #open} lists them; empty when it cannot be opened or listed (the caller then lists it
   * the JDK way, which raises what it raises).
   */
  static Optional<List<String>> list(FileSystemSysfs sysfs, String directory, String local) {
    Optional<NativeDirectory> opened = open(sysfs, directory, local);
    if (opened.isEmpty()) {
      return Optional.empty();
    }
    try (NativeDirectory d = opened.get()) {
      return d.names;
    }
  }

  /**
   * What {@code readlink(2)} of {@code local} tells: {@code known} with the link's target, or
   * known to be no link ({@code EINVAL}: not a link; {@code ENOENT}: nothing there), or not
   * known (another failure, a target of a page or more), which the caller asks the JDK.
   */
  record Link(boolean known, Optional<String> target) {
    static final Link NONE = new Link(true, Optional.empty());
    static final Link ASK_THE_JDK = new Link(false, Optional.empty());
  }

  /** {@code readlink(2)} of {@code local}, the target as the JDK gives it (a normalized path). */
  static Link readLinkPath(String local) {
    Memory buffer = BUFFERS.get();
    return link(buffer, LinuxLibc.readlink(cString(local), buffer, FileSystemSysfs.SYSFS_MAX));
  }

  /** What a {@code readlink} that returned {@code n} into {@code buffer} tells. */
  private static Link link(Memory buffer, long n) {
    if (n < 0) {
      int errno = com.sun.jna.Native.getLastError();
      return errno == LinuxLibc.EINVAL || errno == LinuxLibc.ENOENT ? Link.NONE : Link.ASK_THE_JDK;
    }
    if (n == 0 || n >= FileSystemSysfs.SYSFS_MAX) {
      return Link.ASK_THE_JDK;
    }
    String target = new String(buffer.getByteArray(0, (int) n), StandardCharsets.UTF_8);
    boolean normal = target.indexOf("//") < 0 && (target.length() == 1 || !target.endsWith("/"));
    // the JDK gives the target as a Path: without repeated or trailing slashes
    return new Link(true, Optional.of(normal ? target : java.nio.file.Path.of(target).toString()));
  }

  /**
   * Entry names (an attribute such as {@code vendor}, at most {@value #NAME_BYTES} bytes) as
   * NUL-terminated strings in native memory, kept for the process: a name passed as a Java array
   * is copied into native memory on every call (about 75 ns of an {@code openat}, measured), and
   * a scan opens the same few dozen names in every device directory. Not kept: a name with a
   * colon (a device, {@code 0000:17:00.0}: there are as many as functions, each read once a
   * scan), and any name once {@value #NAMES_KEPT} are kept; those are passed as arrays.
   */
  private static final ConcurrentHashMap<String, Memory> NAMES = new ConcurrentHashMap<>();
  static final int NAMES_KEPT = 128;
  static final int NAME_BYTES = 32;

  /** {@code name} in native memory, or null when it is not kept (see {@link #NAMES}). */
  private static Memory nativeName(String name) {
    if (name.length() > NAME_BYTES || name.indexOf(':') >= 0) {
      return null; // never kept: no look-up (a scan reads every device's link by its name)
    }
    Memory kept = NAMES.get(name);
    if (kept != null || NAMES.size() >= NAMES_KEPT) {
      return kept;
    }
    byte[] bytes = cString(name);
    if (bytes.length > NAME_BYTES + 1) {
      return null; // longer in UTF-8 than in characters
    }
    Memory memory = new Memory(bytes.length);
    memory.write(0, bytes, 0, bytes.length);
    Memory raced = NAMES.putIfAbsent(name, memory);
    return raced != null ? raced : memory;
  }

  /** {@code openat(2)} of the entry {@code name} of the open directory {@code dir}. */
  private static int openAt(int dir, String name, int flags) {
    Memory kept = nativeName(name);
    return kept != null ? LinuxLibc.openat(dir, kept, flags)
        : LinuxLibc.openat(dir, cString(name), flags);
  }

  /** {@code readlinkat(2)} of the entry {@code name} of {@code dir} into {@code buffer}. */
  private static long readLinkAt(int dir, String name, Memory buffer) {
    Memory kept = nativeName(name);
    return kept != null ? LinuxLibc.readlinkat(dir, kept, buffer, FileSystemSysfs.SYSFS_MAX)
        : LinuxLibc.readlinkat(dir, cString(name), buffer, FileSystemSysfs.SYSFS_MAX);
  }

  private static byte[] cString(String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    return Arrays.copyOf(bytes, bytes.length + 1);
  }

  /** The listed type of {@code name}, or -1 when it is not listed (or nothing was listed). */
  private int type(String name) {
    if (names.isEmpty()) {
      return -1;
    }
    int i = java.util.Collections.binarySearch(names.get(), name);
    return i < 0 ? -1 : types[i];
  }

  @Override
  public List<String> list() {
    return names.isPresent() ? names.get() : sysfs.list(directory);
  }

  @Override
  public boolean exists(String name) {
    int type = FileSystemSysfs.isPlainName(name) ? type(name) : -1;
    return type == DT_REG || type == DT_DIR || sysfs.exists(path(name));
  }

  @Override
  public String read(String name) {
    Optional<byte[]> fast = readRegular(name);
    return new String(fast.isPresent() ? fast.get() : sysfs.readBytes(path(name)),
        StandardCharsets.UTF_8);
  }

  @Override
  public Optional<String> readIfExists(String name) {
    return readBytesIfExists(name).map(b -> new String(b, StandardCharsets.UTF_8));
  }

  @Override
  public Optional<byte[]> readBytesIfExists(String name) {
    Optional<byte[]> fast = readRegular(name);
    return fast.isPresent() ? fast : sysfs.readBytesIfExists(path(name));
  }

  /**
   * The host path of the entry, built only when the path-based way is asked (the fast path
   * needs only the name); a name that is not one plain segment is refused as join does.
   */
  private String path(String name) {
    return FileSystemSysfs.entryPath(directory, name);
  }

  /**
   * The whole content of the listed regular file {@code name} in three calls; empty for anything
   * else (not a plain name, not listed as a regular file, a failed call, longer than a page),
   * which the caller then reads (or refuses) the path-based way.
   */
  private Optional<byte[]> readRegular(String name) {
    if (fd < 0 || !FileSystemSysfs.isPlainName(name) || type(name) != DT_REG) {
      return Optional.empty();
    }
    int file = openAt(fd, name, FILE_FLAGS);
    if (file < 0) {
      return Optional.empty();
    }
    try {
      Memory buffer = BUFFERS.get();
      long n = LinuxLibc.read(file, buffer, FileSystemSysfs.SYSFS_MAX + 1);
      if (n <= 0 || n > FileSystemSysfs.SYSFS_MAX) {
        return Optional.empty(); // 0: an empty file, or a FIFO swapped in since the listing
      }
      return Optional.of(buffer.getByteArray(0, (int) n));
    } finally {
      LinuxLibc.close(file);
    }
  }

  /**
   * An entry listed as a regular file or a directory is no link, without a call; any other (a
   * link, not listed, not listed yet) is read with {@code readlinkat(2)} on the directory, and
   * what that cannot tell is asked the path-based way.
   */
  @Override
  public Optional<String> readLink(String name) {
    if (!FileSystemSysfs.isPlainName(name)) {
      return sysfs.readLink(path(name)); // refused as join refuses it, or read the long way
    }
    int type = type(name);
    if (type == DT_REG || type == DT_DIR) {
      return Optional.empty();
    }
    if (fd >= 0) {
      Memory buffer = BUFFERS.get();
      Link link = link(buffer, readLinkAt(fd, name, buffer));
      if (link.known()) {
        return link.target();
      }
    }
    return sysfs.readLink(path(name));
  }

  @Override
  public void close() {
    if (fd >= 0) {
      LinuxLibc.close(fd);
      fd = -1;
    }
  }
}
