package io.gpuvirt.core.host;

import io.gpuvirt.core.InvalidValueException;

/** A host path was refused before it reached the file system (a {@code ..} segment, a newline...). */
public final class IllegalHostPathException extends InvalidValueException {
  private static final long serialVersionUID = 1L;

  public IllegalHostPathException(String path, String reason) {
    super("refusing host path '" + path.replace("\n", "\\n") + "': " + reason
        + "; gpuvirt builds host paths only from parsed PCI addresses and fixed names");
  }
}
