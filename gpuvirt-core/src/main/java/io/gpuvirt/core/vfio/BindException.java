package io.gpuvirt.core.vfio;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Optional;

/**
 * Binding or restoring a device failed. Names the device and the step; by the time it is thrown,
 * every device the operation had already changed has been put back where it was.
 */
public final class BindException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final transient PciAddress device;
  private final BindStep step;

  public BindException(PciAddress device, BindStep step, String message, Throwable cause) {
    super(message, cause);
    this.device = device;
    this.step = step;
  }

  /** The device the operation failed on. */
  public Optional<PciAddress> device() {
    return Optional.ofNullable(device);
  }

  /** The step that failed. */
  public BindStep step() {
    return step;
  }
}
