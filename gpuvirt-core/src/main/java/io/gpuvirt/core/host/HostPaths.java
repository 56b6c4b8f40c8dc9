package io.gpuvirt.core.host;

/** Validation and joining of host paths. Every host path is checked here before it reaches a file. */
public final class HostPaths {
  private HostPaths() {}

  /**
   * Returns {@code path} unchanged if it is a well-formed host path: absolute, no empty, {@code .} or
   * {@code ..} segments, no NUL, newline or backslash.
   *
   * @throws IllegalHostPathException otherwise
   */
  public static String check(String path) {
    if (path == null || path.isEmpty() || path.charAt(0) != '/') {
      throw new IllegalHostPathException(String.valueOf(path), "it must be absolute");
    }
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '\0' || c == '\n' || c == '\r' || c == '\\') {
        throw new IllegalHostPathException(path, "it contains a control character or backslash");
      }
    }
    if (path.length() == 1) {
      return path;
    }
    int end = path.endsWith("/") ? path.length() - 1 : path.length();
    int start = 1;
    while (start <= end) {
      int slash = path.indexOf('/', start);
      int stop = slash < 0 || slash > end ? end : slash;
      if (!isNormalSegment(path, start, stop)) {
        throw new IllegalHostPathException(path, "it has an empty, '.' or '..' segment");
      }
      start = stop + 1;
    }
    return path;
  }

  /** Whether {@code path[from, to)} is a segment other than empty, {@code .} and {@code ..}. */
  private static boolean isNormalSegment(String path, int from, int to) {
    int length = to - from;
    return length > 2 || length == 1 && path.charAt(from) != '.'
        || length == 2 && !(path.charAt(from) == '.' && path.charAt(from + 1) == '.');
  }

  /**
   * Joins a checked host path and a relative name ({@code vendor}, or {@code driver/unbind}),
   * checking the result.
   *
   * @throws IllegalHostPathException for an empty name, or one that makes the path malformed
   *     ({@code ..}, an absolute name, a newline)
   */
  public static String join(String directory, String name) {
    String dir = check(directory);
    if (name == null || name.isEmpty()) {
      throw new IllegalHostPathException(dir + "/" + name, "the name to join is empty");
    }
    return check(dir.endsWith("/") ? dir + name : dir + "/" + name);
  }
}
