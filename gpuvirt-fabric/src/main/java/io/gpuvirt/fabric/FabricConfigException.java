package io.gpuvirt.fabric;

import io.gpuvirt.core.GpuvirtException;

/** {@code fabricmanager.cfg} has a line gpuvirt cannot read; the message names file, line and fix. */
public final class FabricConfigException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final String source;
  private final int line;

  public FabricConfigException(String source, int line, String message) {
    super(source + " line " + line + ": " + message);
    this.source = source;
    this.line = line;
  }

  /** The file, for example {@code /usr/share/nvidia/nvswitch/fabricmanager.cfg}. */
  public String source() {
    return source;
  }

  /** The 1-based line number. */
  public int line() {
    return line;
  }
}
