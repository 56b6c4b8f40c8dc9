package io.gpuvirt.core.host;

import io.gpuvirt.core.GpuvirtException;

/**
 * A host file exists but its content is not in the format the kernel writes (a corrupt or foreign
 * sysfs tree). The message names the file, quotes what was found and says what was expected.
 */
public final class SysfsFormatException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final String path;

  public SysfsFormatException(String path, String found, String expected) {
    super("corrupt host file " + path + ": found '" + abbreviate(found) + "', expected " + expected
        + "; the tree at this root does not look like Linux sysfs");
    this.path = path;
  }

  /** The host path whose content could not be parsed. */
  public String path() {
    return path;
  }

  private static String abbreviate(String s) {
    String oneLine = s.replace("\n", "\\n");
    return oneLine.length() > 80 ? oneLine.substring(0, 77) + "..." : oneLine;
  }
}
