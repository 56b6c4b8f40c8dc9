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
    String body = path.endsWith("/") ? path.substring(1, path.length() - 1) : path.substring(1);
    for (String segment : body.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        throw new IllegalHostPathException(path, "it has an empty, '.' or '..' segment");
      }
    }
    return path;
  }

  /** Joins a checked host path and one more name segment, checking the result. */
  public static String join(String directory, String name) {
    String dir = check(directory);
    return check(dir.endsWith("/") ? dir + name : dir + "/" + name);
  }
}
