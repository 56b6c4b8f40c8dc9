package io.gpuvirt.core.host;

import io.gpuvirt.core.GpuvirtException;
import java.util.List;

/** An external program could not be started, or ran past its timeout. */
public final class CommandException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final List<String> argv;
  private final boolean timedOut;

  public CommandException(List<String> argv, String message, Throwable cause) {
    this(argv, message, cause, false);
  }

  /**
   * @param timedOut true when the program ran past its timeout and was killed, false when it could
   *     not be started
   */
  public CommandException(List<String> argv, String message, Throwable cause, boolean timedOut) {
    super(message, cause);
    this.argv = List.copyOf(argv);
    this.timedOut = timedOut;
  }

  /** Whether the program ran past its timeout and was killed (rather than failing to start). */
  public boolean timedOut() {
    return timedOut;
  }

  /** The argv of the program that failed. */
  public List<String> argv() {
    return argv;
  }
}
