package io.gpuvirt.qemu.command;

/** Byte counts for plan text: {@code 4T+256G+96M}, exact and short. */
final class Sizes {
  private static final String[] UNITS = {"", "K", "M", "G", "T", "P", "E"};

  private Sizes() {}

  /** {@code 256G}, {@code 2T+768M}, {@code 0}; each term a whole number of its unit. */
  static String of(long bytes) {
    if (bytes <= 0) {
      return Long.toString(bytes);
    }
    StringBuilder sb = new StringBuilder();
    long rest = bytes;
    for (int u = UNITS.length - 1; u >= 0 && rest > 0; u--) {
      long unit = 1L << (10 * u);
      long count = rest / unit;
      if (count > 0) {
        if (sb.length() > 0) {
          sb.append('+');
        }
        sb.append(count).append(UNITS[u]);
        rest -= count * unit;
      }
    }
    return sb.toString();
  }
}
