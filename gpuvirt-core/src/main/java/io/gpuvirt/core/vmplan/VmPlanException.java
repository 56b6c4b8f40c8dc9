package io.gpuvirt.core.vmplan;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;
import java.util.Optional;

/** A lease's devices cannot be planned into one VM; the message says why and what to change. */
public class VmPlanException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final transient Optional<PciAddress> device;

  /**
   * @param device the device the plan fails on, when it is one device
   * @param message what could not be planned, for which device, and the fix
   * @param cause the planner's own error, or null
   */
  public VmPlanException(Optional<PciAddress> device, String message, Throwable cause) {
    super(message, cause);
    this.device = Objects.requireNonNull(device, "device");
  }

  /** The device the plan fails on, when the failure concerns one device. */
  public Optional<PciAddress> device() {
    return device;
  }
}
