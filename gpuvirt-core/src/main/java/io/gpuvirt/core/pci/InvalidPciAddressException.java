package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;

/** Text that is not a PCI address was given where one was expected. */
public final class InvalidPciAddressException extends InvalidValueException {
  private static final long serialVersionUID = 1L;

  public InvalidPciAddressException(String text, String reason) {
    super("invalid PCI address '" + text.replace("\n", "\\n").replace("\r", "\\r") + "': " + reason
        + " (example: 0000:17:00.0)");
  }
}
