package io.gpuvirt.core;

/**
 * The root of every exception gpuvirt throws. All gpuvirt exceptions are unchecked.
 *
 * <p>Messages are written for the operator who reads them in a log: they name the device (or file,
 * or program), the step that failed, and the fix where one is known.
 */
public class GpuvirtException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception with a message that names the device, the step and the fix. */
  public GpuvirtException(String message) {
    super(message);
  }

  /** Creates an exception that keeps its cause (an I/O error keeps its path this way). */
  public GpuvirtException(String message, Throwable cause) {
    super(message, cause);
  }
}
