package io.gpuvirt.qemu.libvirt;

import io.gpuvirt.core.InvalidValueException;
import java.util.Comparator;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A libvirt release, which decides the domain XML features a rendering may use.
 *
 * @param major the major version
 * @param minor the minor version
 * @param micro the micro version
 */
public record LibvirtVersion(int major, int minor, int micro) implements Comparable<LibvirtVersion> {
  /** Debian 12's libvirt, 9.0.0, the one the tests validate against. */
  public static final LibvirtVersion DEBIAN_12 = new LibvirtVersion(9, 0, 0);

  private static final Pattern TEXT = Pattern.compile("([0-9]{1,4})\\.([0-9]{1,4})\\.([0-9]{1,4})");
  private static final Comparator<LibvirtVersion> ORDER = Comparator
      .comparingInt(LibvirtVersion::major).thenComparingInt(LibvirtVersion::minor)
      .thenComparingInt(LibvirtVersion::micro);

  public LibvirtVersion {
    if (major < 0 || minor < 0 || micro < 0) {
      throw new InvalidValueException("libvirt version " + major + "." + minor + "." + micro
          + " has a negative part");
    }
  }

  /** The version {@code major.minor.micro}. */
  public static LibvirtVersion of(int major, int minor, int micro) {
    return new LibvirtVersion(major, minor, micro);
  }

  /** Parses {@code 9.0.0} (what {@code virsh --version} prints). */
  public static LibvirtVersion parse(String text) {
    Objects.requireNonNull(text, "text");
    Matcher m = TEXT.matcher(text.strip());
    if (!m.matches()) {
      throw new InvalidValueException("libvirt version '" + text + "' is not major.minor.micro"
          + " (e.g. 9.0.0, as virsh --version prints it)");
    }
    return new LibvirtVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
        Integer.parseInt(m.group(3)));
  }

  /** Whether this is {@code other} or newer. */
  public boolean isAtLeast(LibvirtVersion other) {
    return compareTo(other) >= 0;
  }

  @Override
  public int compareTo(LibvirtVersion other) {
    return ORDER.compare(this, other);
  }

  @Override
  public String toString() {
    return major + "." + minor + "." + micro;
  }
}
