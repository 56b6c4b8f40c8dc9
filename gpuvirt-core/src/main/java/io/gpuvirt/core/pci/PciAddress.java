package io.gpuvirt.core.pci;

import io.gpuvirt.core.host.HostPaths;

/**
 * A PCI function address (BDF) with its domain: {@code 0000:17:00.0}.
 *
 * <p>This is the only way a BDF from outside (a user, a file, a program's output) becomes part of a
 * host path or an argv. {@link #parse} accepts exactly {@code DDDD:BB:DD.F} (domain of 4 to 8 hex
 * digits, as Linux and {@code nvidia-smi} print it) and the short {@code BB:DD.F} (domain 0); hex in
 * either case; nothing else: no whitespace, no trailing newline, no path characters. The canonical
 * form, {@link #toString()}, is lower case with a 4-digit domain, as in {@code /sys/bus/pci/devices}.
 *
 * @param domain PCI segment, 0 to 0x7fffffff
 * @param bus 0 to 0xff
 * @param device 0 to 0x1f
 * @param function 0 to 7
 */
public record PciAddress(int domain, int bus, int device, int function)
    implements Comparable<PciAddress> {

  private static final String DEVICES_PREFIX = "/sys/bus/pci/devices/";
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  public PciAddress {
    if (domain < 0) {
      throw new InvalidPciAddressException(String.valueOf(domain), "domain must be 0..7fffffff");
    }
    if (bus < 0 || bus > 0xff) {
      throw new InvalidPciAddressException(Integer.toHexString(bus), "bus must be 00..ff");
    }
    if (device < 0 || device > 0x1f) {
      throw new InvalidPciAddressException(Integer.toHexString(device), "device must be 00..1f");
    }
    if (function < 0 || function > 7) {
      throw new InvalidPciAddressException(String.valueOf(function), "function must be 0..7");
    }
  }

  /**
   * Parses {@code 0000:17:00.0}, {@code 00000000:17:00.0} or {@code 17:00.0}.
   *
   * @throws InvalidPciAddressException naming the text and what is wrong with it
   */
  public static PciAddress parse(String text) {
    if (text == null) {
      throw new InvalidPciAddressException("null", "no address given");
    }
    int first = text.indexOf(':');
    int second = first < 0 ? -1 : text.indexOf(':', first + 1);
    int third = second < 0 ? -1 : text.indexOf(':', second + 1);
    String domainPart;
    String busPart;
    String slotPart;
    if (second >= 0 && third < 0) {
      domainPart = text.substring(0, first);
      busPart = text.substring(first + 1, second);
      slotPart = text.substring(second + 1);
      if (domainPart.length() < 4 || domainPart.length() > 8) {
        throw new InvalidPciAddressException(text, "the domain must have 4 to 8 hex digits");
      }
    } else if (first >= 0 && second < 0) {
      domainPart = "0000";
      busPart = text.substring(0, first);
      slotPart = text.substring(first + 1);
    } else {
      throw new InvalidPciAddressException(text, "expected DDDD:BB:DD.F or BB:DD.F");
    }
    int dot = slotPart.indexOf('.');
    if (dot < 0 || slotPart.indexOf('.', dot + 1) >= 0) {
      throw new InvalidPciAddressException(text, "expected one '.' before the function number");
    }
    String devicePart = slotPart.substring(0, dot);
    String functionPart = slotPart.substring(dot + 1);
    if (busPart.length() != 2 || devicePart.length() != 2 || functionPart.length() != 1) {
      throw new InvalidPciAddressException(text,
          "bus and device need 2 hex digits and the function 1 digit");
    }
    long domain = hex(text, domainPart);
    if (domain > 0x7fffffffL) {
      throw new InvalidPciAddressException(text, "domain must be 0..7fffffff");
    }
    int bus = (int) hex(text, busPart);
    int device = (int) hex(text, devicePart);
    char f = functionPart.charAt(0);
    if (f < '0' || f > '7') {
      throw new InvalidPciAddressException(text, "function must be 0..7");
    }
    if (device > 0x1f) {
      throw new InvalidPciAddressException(text, "device must be 00..1f");
    }
    return new PciAddress((int) domain, bus, device, f - '0');
  }

  private static long hex(String text, String digits) {
    long value = 0;
    for (int i = 0; i < digits.length(); i++) {
      int d = Character.digit(digits.charAt(i), 16);
      if (d < 0 || digits.charAt(i) > 'f') {
        throw new InvalidPciAddressException(text, "'" + digits + "' is not hexadecimal");
      }
      value = value * 16 + d;
    }
    return value;
  }

  /** Whether {@code text} is a valid address (for filtering directory listings). */
  public static boolean isValid(String text) {
    try {
      parse(text);
      return true;
    } catch (InvalidPciAddressException e) {
      return false;
    }
  }

  /** The sysfs directory of this device: {@code /sys/bus/pci/devices/0000:17:00.0}. */
  public String sysfsPath() {
    // The canonical form is hex digits, ':' and '.': always one well-formed path segment.
    return DEVICES_PREFIX + this;
  }

  /** A file of this device's sysfs directory, such as {@code vendor}. */
  public String sysfsPath(String attribute) {
    return HostPaths.join(sysfsPath(), attribute);
  }

  /** The bus this function sits on, {@code 0000:17}. */
  public String busId() {
    char[] c = new char[domainDigits() + 3];
    int at = hex(c, 0, domain, domainDigits());
    c[at] = ':';
    hex(c, at + 1, bus, 2);
    return new String(c);
  }

  /** The same slot with another function number. */
  public PciAddress withFunction(int newFunction) {
    return new PciAddress(domain, bus, device, newFunction);
  }

  @Override
  public int compareTo(PciAddress other) {
    int c = Integer.compare(domain, other.domain);
    if (c == 0) {
      c = Integer.compare(bus, other.bus);
    }
    if (c == 0) {
      c = Integer.compare(device, other.device);
    }
    return c != 0 ? c : Integer.compare(function, other.function);
  }

  /**
   * Equal when all four numbers are; written out (as the record's own would be) so that the first
   * call in a fresh JVM does not bootstrap {@code ObjectMethods} method handles (CLI start-up).
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof PciAddress && ((PciAddress) o).domain == domain
        && ((PciAddress) o).bus == bus && ((PciAddress) o).device == device
        && ((PciAddress) o).function == function;
  }

  @Override
  public int hashCode() {
    return ((domain * 31 + bus) * 32 + device) * 8 + function;
  }

  /** The canonical form, {@code 0000:17:00.0}. */
  @Override
  public String toString() {
    int d = domainDigits();
    char[] c = new char[d + 8];
    int at = hex(c, 0, domain, d);
    c[at] = ':';
    at = hex(c, at + 1, bus, 2);
    c[at] = ':';
    at = hex(c, at + 1, device, 2);
    c[at] = '.';
    c[at + 1] = (char) ('0' + function);
    return new String(c);
  }

  /** The digits {@code %04x} prints for the domain: 4, or more for a domain above 0xffff. */
  private int domainDigits() {
    return Math.max(4, (35 - Integer.numberOfLeadingZeros(domain)) / 4);
  }

  /** Writes {@code value} as {@code digits} lower-case hex digits at {@code at}; the next index. */
  private static int hex(char[] out, int at, int value, int digits) {
    for (int i = digits - 1; i >= 0; i--) {
      out[at + i] = HEX[value & 0xf];
      value >>>= 4;
    }
    return at + digits;
  }
}
