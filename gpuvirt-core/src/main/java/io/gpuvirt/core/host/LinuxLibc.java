package io.gpuvirt.core.host;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The six C library calls the native sysfs reader makes ({@link NativeDirectory}), bound through
 * JNA's direct mapping on 64-bit Linux (x86-64 and aarch64), where {@code size_t} and
 * {@code ssize_t} are a Java {@code long}. {@code getdents64(3)} is glibc 2.30 or later (and musl).
 *
 * <p>{@link #AVAILABLE} is false wherever the binding cannot be made (another system or
 * architecture, an older C library, JNA missing): gpuvirt then reads through the JDK alone. Each
 * call returns -1 on failure; the caller then asks the JDK path again, which raises the exact
 * error (only {@code readlink}'s caller reads errno, {@link Native#getLastError}, to tell "not a
 * link" and "nothing there" from a failure).
 */
final class LinuxLibc {
  /** {@code AT_FDCWD}: a path relative to the working directory (an absolute path ignores it). */
  static final int AT_FDCWD = -100;

  static final int O_RDONLY = 0;
  static final int O_NOCTTY = 0400;
  static final int O_NONBLOCK = 04000;
  static final int O_CLOEXEC = 02000000;
  /** Differs by architecture: x86-64 {@code 0200000}, aarch64 {@code 040000}. */
  static final int O_DIRECTORY;
  /** Differs by architecture: x86-64 {@code 0400000}, aarch64 {@code 0100000}. */
  static final int O_NOFOLLOW;

  /** errno: no such file or directory; the same on x86-64 and aarch64. */
  static final int ENOENT = 2;
  /** errno: invalid argument ({@code readlink} of what is not a link). */
  static final int EINVAL = 22;

  /** Whether the calls are bound; when false, none of them may be called. */
  static final boolean AVAILABLE;

  static {
    boolean x86 = Platform.isLinux() && Platform.is64Bit() && "x86-64".equals(Platform.ARCH);
    boolean arm = Platform.isLinux() && Platform.is64Bit() && "aarch64".equals(Platform.ARCH);
    O_DIRECTORY = x86 ? 0200000 : 040000;
    O_NOFOLLOW = x86 ? 0400000 : 0100000;
    boolean bound = false;
    if (x86 || arm) {
      try {
        Native.register(LinuxLibc.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
        bound = true;
      } catch (LinkageError | RuntimeException e) {
        bound = false; // no such symbol (getdents64 before glibc 2.30), no libjnidispatch ...
      }
    }
    AVAILABLE = bound;
  }

  private LinuxLibc() {}

  /** {@code openat(2)}; {@code path} is NUL-terminated. The descriptor, or -1. */
  static native int openat(int dirfd, byte[] path, int flags);

  /** {@link #openat(int, byte[], int)} with the path already in native memory. */
  static native int openat(int dirfd, Pointer path, int flags);

  /** {@code read(2)} into native memory: the bytes read, 0 at end of file, or -1. */
  static native long read(int fd, Pointer buffer, long count);

  /** {@code getdents64(2)}: the bytes of {@code linux_dirent64} records, 0 at the end, or -1. */
  static native long getdents64(int fd, Pointer buffer, long count);

  /** {@code readlink(2)}: the bytes of the target written (not NUL-terminated), or -1. */
  static native long readlink(byte[] path, Pointer buffer, long size);

  /** {@code readlinkat(2)}: {@link #readlink} of {@code path} relative to {@code dirfd}. */
  static native long readlinkat(int dirfd, byte[] path, Pointer buffer, long size);

  /** {@link #readlinkat(int, byte[], Pointer, long)} with the path already in native memory. */
  static native long readlinkat(int dirfd, Pointer path, Pointer buffer, long size);

  /** {@code close(2)}: 0, or -1. */
  static native int close(int fd);
}
