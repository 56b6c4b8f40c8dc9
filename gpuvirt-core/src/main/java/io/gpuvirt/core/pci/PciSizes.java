package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Region sizes the way lspci prints them ({@code 256M}), both ways. */
public final class PciSizes {
  private static final String UNITS = "KMGTP";
  private static final Pattern SIZE = Pattern.compile("([0-9]{1,19})([KMGTP]?)");

  private PciSizes() {}

  /** {@code 268435456} becomes {@code 256M}; sizes that are not whole units keep the smaller unit. */
  public static String human(long bytes) {
    String[] units = {"", "K", "M", "G", "T", "P"};
    long value = bytes;
    int unit = 0;
    while (unit < units.length - 1 && value >= 1024 && value % 1024 == 0) {
      value /= 1024;
      unit++;
    }
    return value + units[unit];
  }

  /**
   * The bytes of a size as {@link #human} writes it: {@code 256M} is {@code 268435456}.
   *
   * @throws InvalidValueException when the text is not digits with an optional K, M, G, T or P,
   *     or the size does not fit in a long
   */
  public static long bytes(String size) {
    Matcher m = SIZE.matcher(size);
    if (!m.matches()) {
      throw new InvalidValueException("size '" + size + "' is not a number with an optional K,"
          + " M, G, T or P suffix");
    }
    int shift = m.group(2).isEmpty() ? 0 : 10 * (UNITS.indexOf(m.group(2)) + 1);
    try {
      long value = Long.parseLong(m.group(1));
      if (value > (Long.MAX_VALUE >> shift)) {
        throw new NumberFormatException(size);
      }
      return value << shift;
    } catch (NumberFormatException e) {
      throw new InvalidValueException("size '" + size + "' does not fit in 64 bits");
    }
  }
}
