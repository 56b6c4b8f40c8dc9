package io.gpuvirt.qemu;

import io.gpuvirt.core.GpuvirtException;

/**
 * QEMU could not be probed, or printed something gpuvirt cannot read (a version string, a property
 * list). The message names the binary or the text, the step and the fix.
 */
public class QemuException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception whose message names the binary or text, the step and the fix. */
  public QemuException(String message) {
    super(message);
  }

  /** Creates an exception that keeps its cause. */
  public QemuException(String message, Throwable cause) {
    super(message, cause);
  }
}
