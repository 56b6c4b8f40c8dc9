package io.gpuvirt.core.pci;

import io.gpuvirt.core.GpuvirtException;

/** A PCI address that is well formed but names no device of the host. */
public final class UnknownDeviceException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  public UnknownDeviceException(PciAddress address, String where) {
    super("no PCI device " + address + " on " + where
        + "; list the host's devices with 'gpuvirt topology' (or 'lspci -D')");
  }
}
