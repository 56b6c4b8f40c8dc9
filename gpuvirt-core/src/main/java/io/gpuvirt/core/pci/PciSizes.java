package io.gpuvirt.core.pci;

/** Formatting of region sizes the way lspci prints them. */
public final class PciSizes {
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
}
