package io.gpuvirt.qemu.qmp;

/** QEMU did not answer, or an awaited event did not arrive, within the timeout. */
public final class QmpTimeoutException extends QmpException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception whose message names what was awaited, for how long, and the fix. */
  public QmpTimeoutException(String message) {
    super(message);
  }
}
