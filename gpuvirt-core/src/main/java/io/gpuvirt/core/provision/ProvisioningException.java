package io.gpuvirt.core.provision;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Optional;

/**
 * Provisioning or teardown failed at a step. By the time it is thrown the host is back where it was
 * before the call ({@link #rolledBack()}), or, if the rollback itself failed, the lease is left in
 * its journal state so that {@link Provisioner#recover()} can finish the job later.
 */
public final class ProvisioningException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final String owner;
  private final ProvisionStep step;
  private final transient PciAddress device;
  private final boolean rolledBack;

  public ProvisioningException(String owner, ProvisionStep step, PciAddress device,
      boolean rolledBack, String message, Throwable cause) {
    super(message, cause);
    this.owner = owner;
    this.step = step;
    this.device = device;
    this.rolledBack = rolledBack;
  }

  /** The lease owner. */
  public String owner() {
    return owner;
  }

  /** The step that failed. */
  public ProvisionStep step() {
    return step;
  }

  /** The device the step failed on, when it concerned one. */
  public Optional<PciAddress> device() {
    return Optional.ofNullable(device);
  }

  /** Whether everything the call changed was undone. */
  public boolean rolledBack() {
    return rolledBack;
  }
}
