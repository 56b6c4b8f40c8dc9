package io.gpuvirt.core.gpuhost;

import io.gpuvirt.core.GpuvirtException;

/**
 * A Fabric Manager operation on a host that has none in shared NVSwitch mode (a workstation, an
 * H100 PCIe host, an HGX host in full passthrough mode).
 */
public class NoFabricManagerException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message names the host and the fix. */
  public NoFabricManagerException(String message) {
    super(message);
  }
}
