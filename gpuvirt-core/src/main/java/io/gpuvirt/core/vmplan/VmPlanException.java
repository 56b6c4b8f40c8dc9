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
   * A plan that fails on one device.
   *
   * @param device the device the plan fails on
   * @param message what could not be planned, for which device, and the fix
   */
  public VmPlanException(PciAddress device, String message) {
    super(message);
    this.device = Optional.of(Objects.requireNonNull(device, "device"));
  }

  /**
   * A plan that fails for the lease as a whole.
   *
   * @param message what could not be planned and the fix
   */
  public VmPlanException(String message) {
    super(message);
    this.device = Optional.empty();
  }

  /**
   * A plan that fails for the lease as a whole, because of the planner's own error.
   *
   * @param message what could not be planned and the fix
   * @param cause the planner's error
   */
  public VmPlanException(String message, Throwable cause) {
    super(message, Objects.requireNonNull(cause, "cause"));
    this.device = Optional.empty();
  }

  /** The device the plan fails on, when the failure concerns one device. */
  public Optional<PciAddress> device() {
    return device;
  }
}
