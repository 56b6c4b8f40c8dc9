package io.gpuvirt.qemu;

import io.gpuvirt.core.InvalidValueException;
import java.util.Comparator;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A QEMU release number with the distribution's package string, as {@code qemu-system-x86_64
 * --version} prints it and QMP {@code query-version} returns it.
 *
 * <p>Distribution builds backport fixes without changing the number (RHEL 9.7's QEMU 9.1 carries
 * 9.2's BAR mmap alignment), so the number is a lower bound of what a binary can do; decisions
 * that depend on it are policies the caller can override.
 *
 * <pre>{@code
 * QemuVersion v = QemuVersion.parse("QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)");
 * v.isAtLeast(QemuVersion.of(10, 1, 0));   // false
 * v.packageName();                          // "Debian 1:8.2.2+ds-0ubuntu1.4"
 * }</pre>
 *
 * @param major major release, {@code 8}
 * @param minor minor release, {@code 2}
 * @param micro micro release, {@code 2}; development builds use 50 and up, release candidates 90
 *     and up
 * @param packageName the distribution's package string, empty for an upstream build
 */
public record QemuVersion(int major, int minor, int micro, String packageName)
    implements Comparable<QemuVersion> {

  private static final Comparator<QemuVersion> ORDER = Comparator.comparingInt(QemuVersion::major)
      .thenComparingInt(QemuVersion::minor).thenComparingInt(QemuVersion::micro);

  // "QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)", "version 10.1.0", "7.2.22 (...)";
  // builds before 2.x put the copyright on the same line: "QEMU emulator version 1.5.3
  // (qemu-kvm-1.5.3-175.el7_9.1), Copyright (c) 2003-2008 Fabrice Bellard", and builds before 1.0
  // (RHEL 6) said "QEMU PC emulator version 0.12.1 (qemu-kvm-0.12.1.2), Copyright ..."
  private static final Pattern VERSION = Pattern.compile(
      "^(?:QEMU (?:PC )?emulator version\\s+)?(\\d{1,4})\\.(\\d{1,4})(?:\\.(\\d{1,4}))?"
          + "(?:\\s*\\((.*?)\\))?(?:\\s*,?\\s*Copyright\\b.*)?\\s*$");

  public QemuVersion {
    Objects.requireNonNull(packageName, "packageName");
    if (major < 0 || minor < 0 || micro < 0) {
      throw new InvalidValueException("QEMU version numbers must not be negative: "
          + major + "." + minor + "." + micro);
    }
    packageName = packageName.strip();
  }

  /** An upstream version with no package string. */
  public static QemuVersion of(int major, int minor, int micro) {
    return new QemuVersion(major, minor, micro, "");
  }

  /**
   * Parses the first line of {@code qemu-system-x86_64 --version}, or a bare version with an
   * optional package in parentheses: {@code QEMU emulator version 8.2.2 (Debian
   * 1:8.2.2+ds-0ubuntu1.4)}, {@code 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)}, {@code 10.1.0},
   * {@code 9.2}, and the one-line form of old builds, {@code QEMU emulator version 1.5.3
   * (qemu-kvm-1.5.3-175.el7_9.1), Copyright (c) 2003-2008 Fabrice Bellard} (and {@code QEMU PC
   * emulator version 0.12.1 ...} before 1.0). Reading a version
   * does not judge it: the command builder refuses one older than its minimum, by name.
   *
   * @throws QemuException naming the text when it is not a QEMU version
   */
  public static QemuVersion parse(String text) {
    if (text == null || text.isBlank()) {
      throw new QemuException("empty QEMU version text; expected the output of"
          + " 'qemu-system-x86_64 --version', for example 'QEMU emulator version 8.2.2'");
    }
    String first = text.strip().lines().findFirst().orElse("").strip();
    Matcher m = VERSION.matcher(first);
    if (!m.matches()) {
      throw new QemuException("cannot read a QEMU version from '" + abbreviate(first)
          + "'; expected 'QEMU emulator version MAJOR.MINOR.MICRO [(package)]'; check that the"
          + " program is qemu-system-x86_64");
    }
    int micro = m.group(3) == null ? 0 : Integer.parseInt(m.group(3));
    String pkg = m.group(4) == null ? "" : m.group(4);
    return new QemuVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), micro, pkg);
  }

  /** Whether this release is {@code other} or newer (the package string is ignored). */
  public boolean isAtLeast(QemuVersion other) {
    return compareTo(other) >= 0;
  }

  /** Orders by major, minor, micro; the package string does not take part. */
  @Override
  public int compareTo(QemuVersion other) {
    return ORDER.compare(this, other);
  }

  /** {@code 8.2.2}, without the package string. */
  public String number() {
    return major + "." + minor + "." + micro;
  }

  /** {@code 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)}, or just the number for an upstream build. */
  @Override
  public String toString() {
    return packageName.isEmpty() ? number() : number() + " (" + packageName + ")";
  }

  static String abbreviate(String s) {
    return s.length() <= 120 ? s : s.substring(0, 117) + "...";
  }
}
