package io.gpuvirt.qemu.qmp;

/**
 * QEMU answered a command with an error. {@link #errorClass()} is QMP's machine-readable class
 * ({@code GenericError}, {@code DeviceNotFound}, {@code CommandNotFound}); the description is for
 * people and must not be parsed.
 */
public final class QmpErrorException extends QmpException {
  private static final long serialVersionUID = 1L;
  private final String command;
  private final String errorClass;
  private final String description;

  /** Creates the exception for {@code command}'s error reply. */
  public QmpErrorException(String command, String errorClass, String description) {
    super("QMP command '" + command + "' failed: " + errorClass + ": " + description);
    this.command = command;
    this.errorClass = errorClass;
    this.description = description;
  }

  /** The command that failed. */
  public String command() {
    return command;
  }

  /** QMP's error class, {@code DeviceNotFound}. */
  public String errorClass() {
    return errorClass;
  }

  /** QEMU's human-readable description. */
  public String description() {
    return description;
  }
}
