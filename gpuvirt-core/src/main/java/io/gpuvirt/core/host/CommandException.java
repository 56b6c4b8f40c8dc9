package io.gpuvirt.core.host;

import io.gpuvirt.core.GpuvirtException;
import java.util.List;

/** An external program could not be started, or ran past its timeout. */
public final class CommandException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final List<String> argv;

  public CommandException(List<String> argv, String message, Throwable cause) {
    super(message, cause);
    this.argv = List.copyOf(argv);
  }

  /** The argv of the program that failed. */
  public List<String> argv() {
    return argv;
  }
}
