package io.gpuvirt.qemu.qmp;

import io.gpuvirt.core.GpuvirtException;

/**
 * A QMP exchange failed: the socket could not be opened, QEMU sent something that is not QMP, or
 * one of the subclasses' cases. The message names the socket, the command and the fix.
 */
public class QmpException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception whose message names the socket, the command and the fix. */
  public QmpException(String message) {
    super(message);
  }

  /** Creates an exception that keeps its cause. */
  public QmpException(String message, Throwable cause) {
    super(message, cause);
  }
}
