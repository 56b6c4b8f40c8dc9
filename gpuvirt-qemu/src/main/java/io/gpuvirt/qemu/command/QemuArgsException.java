package io.gpuvirt.qemu.command;

import io.gpuvirt.qemu.QemuException;

/**
 * The command builder refused: the QEMU binary lacks something the VM needs, or the devices do not
 * fit (root-port slots, the 64-bit aperture, the guest's address width). The message names the
 * device or setting, what was being decided and the fix.
 */
public final class QemuArgsException extends QemuException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception whose message names the device or setting, the step and the fix. */
  public QemuArgsException(String message) {
    super(message);
  }
}
