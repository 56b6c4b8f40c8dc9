package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;

/**
 * A mig-parted config is not valid: malformed YAML, a wrong version, an unknown or missing key, a
 * bad value. The message names the file, the line and the key path (e.g.
 * {@code mig-configs.all-balanced[2].mig-devices}). Nothing was changed.
 */
public class MigPartedFormatException extends InvalidValueException {
  private static final long serialVersionUID = 1L;

  private final int line;
  private final String key;

  /** Creates the exception for a line (1-based, 0 when unknown) and key path. */
  public MigPartedFormatException(String source, int line, String key, String problem) {
    super(source + (line > 0 ? ":" + line : "") + (key.isEmpty() ? "" : ": " + key) + ": "
        + problem);
    this.line = line;
    this.key = key;
  }

  /** The 1-based line of the bad value, 0 when not known. */
  public int line() {
    return line;
  }

  /** The key path of the bad value, empty for the document itself. */
  public String key() {
    return key;
  }
}
