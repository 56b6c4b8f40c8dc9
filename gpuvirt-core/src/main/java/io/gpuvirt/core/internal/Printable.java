package io.gpuvirt.core.internal;

import java.util.stream.Collectors;

/** Text from outside made safe for a one-line message. Internal: not exported. */
public final class Printable {
  private Printable() {}

  /**
   * The first 64 characters of {@code text} with control and non-ASCII characters shown as
   * Java-style unicode escapes ({@code \u000a}), and {@code ...} when it was longer; {@code null}
   * for null.
   */
  public static String shown(String text) {
    if (text == null) {
      return "null";
    }
    return text.chars().limit(64)
        .mapToObj(c -> c >= 0x20 && c < 0x7f ? String.valueOf((char) c)
            : String.format("\\u%04x", c))
        .collect(Collectors.joining()) + (text.length() > 64 ? "..." : "");
  }
}
