package io.gpuvirt.core;

/**
 * A value given to gpuvirt is not valid: an argument, a builder field, or text from outside (a PCI
 * id, an owner id, a driver name, a program's output field). Nothing was changed. The message names
 * the value and what was expected.
 */
public class InvalidValueException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception whose message names the bad value and what was expected. */
  public InvalidValueException(String message) {
    super(message);
  }

  /** Creates an exception that keeps the error that revealed the bad value. */
  public InvalidValueException(String message, Throwable cause) {
    super(message, cause);
  }
}
