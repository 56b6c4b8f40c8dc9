package io.gpuvirt.qemu.qmp;

/** The QMP connection is closed: QEMU exited or closed the monitor, or the client was closed. */
public final class QmpClosedException extends QmpException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception whose message names the socket and what was being done. */
  public QmpClosedException(String message, Throwable cause) {
    super(message, cause);
  }
}
