package io.gpuvirt.core.pci;

import io.gpuvirt.core.host.SysfsFormatException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Parsers for the content of sysfs attribute files. Each one takes the host path (for the message)
 * and the content, and either returns the value or throws {@link SysfsFormatException} naming the
 * file, what it found and what the kernel writes there. Nothing else escapes: no
 * NumberFormatException, no index errors.
 */
final class SysfsAttributes {
  /** {@code resource} lines: 6 BARs at least; the kernel writes 7, 11, 13 or 17. */
  static final int MIN_RESOURCE_LINES = 6;
  static final int MAX_RESOURCE_LINES = 17;
  /** Config space a reader without CAP_SYS_ADMIN gets: the header only. */
  static final int CONFIG_HEADER_BYTES = 64;

  private static final long IORESOURCE_IO = 0x100;
  private static final long IORESOURCE_PREFETCH = 0x2000;
  private static final long IORESOURCE_MEM_64 = 0x100000;

  private static final int CONFIG_STATUS = 0x06;
  private static final int STATUS_CAP_LIST = 0x10;
  private static final int CONFIG_CAP_POINTER = 0x34;
  private static final int CAP_ID_PCIE = 0x10;


  private SysfsAttributes() {}

  /**
   * A hexadecimal attribute exactly as the kernel writes it: {@code 0x}, exactly {@code digits}
   * lower-case hex digits and one newline ({@code "0x10de\n"} from {@code 0x%04x},
   * {@code "0x030200\n"} from {@code 0x%06x}, {@code "0xa1\n"} from {@code 0x%02x}). Anything else
   * ({@code 0x10}, {@code 0X10DE}, no newline, a sign, full-width digits) is not what Linux writes
   * and is refused naming the file.
   */
  static int hex(String path, String content, int digits) {
    boolean exact = content.length() == digits + 3 && content.startsWith("0x")
        && content.charAt(digits + 2) == '\n' && isLowerHexDigits(content, 2, digits + 2);
    if (!exact) {
      throw new SysfsFormatException(path, content, "0x and exactly " + digits
          + " lower-case hex digits and a newline (0x%0" + digits + "x, like 0x"
          + "0".repeat(digits) + ")");
    }
    int value = 0;
    for (int i = 2; i < digits + 2; i++) {
      char c = content.charAt(i);
      value = value << 4 | (c <= '9' ? c - '0' : c - 'a' + 10); // checked above: 0-9, a-f
    }
    return value;
  }

  /** A decimal attribute ({@code "-1\n"}, {@code "23\n"}) between {@code min} and {@code max}. */
  static int decimal(String path, String content, int min, int max) {
    String value = content.endsWith("\n") ? content.substring(0, content.length() - 1) : content;
    if (value.isEmpty() || value.indexOf('\n') >= 0) {
      value = oneLine(path, content, "a decimal number from " + min + " to " + max); // raises
    }
    if (!isDecimal(value, true, 10)) {
      throw new SysfsFormatException(path, content,
          "a decimal number from " + min + " to " + max + " and a newline");
    }
    long n = Long.parseLong(value);
    if (n < min || n > max) {
      throw new SysfsFormatException(path, content,
          "a decimal number from " + min + " to " + max + " (out of range)");
    }
    return (int) n;
  }

  /** A decimal name such as an IOMMU group directory or link target ({@code 17}). */
  static int decimalName(String path, String name, String what) {
    if (!isDecimal(name, false, 9)) {
      throw new SysfsFormatException(path, name, what + " as a decimal number");
    }
    return Integer.parseInt(name);
  }

  /** The last segment of a link target ({@code ../../../bus/pci/drivers/nvidia} → {@code nvidia}). */
  static String basename(String path, String linkTarget) {
    String t = linkTarget.endsWith("/") ? linkTarget.substring(0, linkTarget.length() - 1)
        : linkTarget;
    String name = t.substring(t.lastIndexOf('/') + 1);
    if (name.isEmpty() || name.equals(".") || name.equals("..")) {
      throw new SysfsFormatException(path, linkTarget, "a link to a named directory");
    }
    return name;
  }

  /**
   * A PCI address in a name (a {@code /sys/bus/pci/devices} entry, a link target's last segment),
   * which must be canonical: 4-digit lower-case domain, as Linux names devices.
   */
  static PciAddress address(String path, String name) {
    PciAddress a;
    try {
      a = PciAddress.parse(name);
    } catch (InvalidPciAddressException e) {
      throw new SysfsFormatException(path, name,
          "a PCI address named like 0000:17:00.0 (" + e.getMessage() + ")");
    }
    if (!a.toString().equals(name)) {
      throw new SysfsFormatException(path, name,
          "the canonical form " + a + " (lower case, 4-digit domain), as Linux names devices");
    }
    return a;
  }

  /**
   * The populated standard BARs of a {@code resource} file: lines 0 to 5, each
   * {@code start end flags} in hex; a line with end 0 is unused. I/O is flag 0x100, 64-bit flag
   * 0x100000 and prefetchable flag 0x2000 (both only for memory BARs).
   */
  static List<Bar> resource(String path, String content) {
    String body = content.endsWith("\n") ? content.substring(0, content.length() - 1) : content;
    int count = 0;
    if (!body.isEmpty()) {
      count = 1;
      for (int i = body.indexOf('\n'); i >= 0; i = body.indexOf('\n', i + 1)) {
        count++;
      }
    }
    if (count < MIN_RESOURCE_LINES || count > MAX_RESOURCE_LINES) {
      throw new SysfsFormatException(path, content, MIN_RESOURCE_LINES + " to "
          + MAX_RESOURCE_LINES + " lines of 'start end flags' (the kernel writes 7, 11, 13 or 17),"
          + " found " + count);
    }
    List<Bar> bars = new ArrayList<>();
    long[] f = new long[3];
    int from = 0;
    for (int i = 0; i < count; i++) {
      int newline = body.indexOf('\n', from);
      int to = newline < 0 ? body.length() : newline;
      if (!resourceLine(body, from, to, f)) {
        throw new SysfsFormatException(path, body.substring(from, to), "line " + i
            + " as three hex numbers 'start end flags' (0x%016llx 0x%016llx 0x%016llx)");
      }
      int lineStart = from;
      from = to + 1;
      if (i > 5) {
        continue; // ROM, SR-IOV BARs and bridge windows: not standard BARs
      }
      long start = f[0];
      long end = f[1];
      long flags = f[2];
      if (end == 0) {
        continue;
      }
      long size = end - start + 1;
      if (Long.compareUnsigned(end, start) < 0 || size <= 0) {
        throw new SysfsFormatException(path, body.substring(lineStart, to),
            "line " + i + " with end >= start and a size that fits in 63 bits");
      }
      boolean io = (flags & IORESOURCE_IO) != 0;
      bars.add(new Bar(i, start, size, !io && (flags & IORESOURCE_MEM_64) != 0,
          !io && (flags & IORESOURCE_PREFETCH) != 0, io));
    }
    return List.copyOf(bars);
  }

  /**
   * Parses {@code s[from, to)} as exactly three numbers {@code 0x} + 1 to 16 hex digits (either
   * case) separated by single spaces into {@code out}; false for anything else.
   */
  private static boolean resourceLine(String s, int from, int to, long[] out) {
    int at = from;
    for (int field = 0; field < 3; field++) {
      if (field > 0) {
        if (at >= to || s.charAt(at) != ' ') {
          return false;
        }
        at++;
      }
      if (at + 2 > to || s.charAt(at) != '0' || s.charAt(at + 1) != 'x') {
        return false;
      }
      at += 2;
      int digits = 0;
      long value = 0;
      while (at < to && s.charAt(at) != ' ') {
        int d = hexDigit(s.charAt(at));
        if (d < 0 || ++digits > 16) {
          return false;
        }
        value = value << 4 | d;
        at++;
      }
      if (digits == 0) {
        return false;
      }
      out[field] = value;
    }
    return at == to;
  }

  /** The value of an ASCII hex digit of either case, or -1. */
  private static int hexDigit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  }

  /**
   * The PCI Express device/port type from config space: the capability list is walked from 0x34
   * when status bit 0x10 is set, and bits 7:4 of the flags at capability + 2 of capability 0x10 are
   * returned. Empty when there is no capability list, no PCI Express capability, an undefined type
   * code, or only the 64-byte header is readable (an unprivileged reader). A pointer below 0x40 or
   * an ID of 0xff ends the list, as in the kernel's own walk.
   *
   * @throws SysfsFormatException for a config shorter than 64 bytes, a pointer past the end of a
   *     longer-than-header config, or a list that loops
   */
  static Optional<PciePortType> portType(String path, byte[] config) {
    if (config.length < CONFIG_HEADER_BYTES) {
      throw new SysfsFormatException(path, config.length + " bytes",
          "at least the " + CONFIG_HEADER_BYTES + "-byte configuration header (256 or 4096 bytes)");
    }
    if ((u8(config, CONFIG_STATUS) & STATUS_CAP_LIST) == 0) {
      return Optional.empty();
    }
    Set<Integer> seen = new HashSet<>();
    int pos = u8(config, CONFIG_CAP_POINTER) & 0xfc;
    while (pos >= 0x40) {
      if (pos + 3 >= config.length) {
        if (config.length == CONFIG_HEADER_BYTES) {
          return Optional.empty(); // capabilities not readable without CAP_SYS_ADMIN
        }
        throw new SysfsFormatException(path, String.format("capability pointer 0x%02x in %d bytes",
            pos, config.length), "capability pointers inside the configuration space");
      }
      if (!seen.add(pos)) {
        throw new SysfsFormatException(path, String.format("capability list returns to 0x%02x",
            pos), "a capability list that ends (next pointer 0)");
      }
      int id = u8(config, pos);
      if (id == 0xff) {
        return Optional.empty();
      }
      if (id == CAP_ID_PCIE) {
        return PciePortType.fromCode((u8(config, pos + 2) >> 4) & 0xf);
      }
      pos = u8(config, pos + 1) & 0xfc;
    }
    return Optional.empty();
  }

  private static int u8(byte[] b, int offset) {
    return b[offset] & 0xff;
  }

  /** Whether {@code s} is 1 to {@code maxDigits} ASCII digits, after one '-' if allowed. */
  private static boolean isDecimal(String s, boolean sign, int maxDigits) {
    int from = sign && s.startsWith("-") ? 1 : 0;
    int digits = s.length() - from;
    if (digits < 1 || digits > maxDigits) {
      return false;
    }
    for (int i = from; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }

  private static boolean isLowerHexDigits(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  /** The content without its one trailing newline; anything else around the value is an error. */
  private static String oneLine(String path, String content, String expected) {
    String value = content.endsWith("\n") ? content.substring(0, content.length() - 1) : content;
    if (value.isEmpty() || value.indexOf('\n') >= 0) {
      throw new SysfsFormatException(path, content, expected + " on one line");
    }
    return value;
  }
}
