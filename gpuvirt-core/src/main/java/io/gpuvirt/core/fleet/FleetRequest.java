package io.gpuvirt.core.fleet;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.pci.PciId;
import java.util.Objects;
import java.util.Optional;

/**
 * "{@code count} GPUs for {@code owner}, on any live host": on a shared-NVSwitch host exactly one
 * free partition of {@code count} GPUs, elsewhere {@code count} whole GPUs by NUMA best fit.
 *
 * @param owner who the lease is for (a VM id), as {@link AllocationRequest#checkOwner} allows
 * @param count 1 to 64
 * @param model when present, only GPUs with this vendor:device id
 */
public record FleetRequest(String owner, int count, Optional<PciId> model) {
  public FleetRequest {
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(model, "model");
    if (count < 1 || count > 64) {
      throw new InvalidValueException("a fleet request asks for 1 to 64 GPUs, not " + count
          + " (owner " + owner + ")");
    }
  }

  /** {@code count} GPUs of any model for {@code owner}. */
  public static FleetRequest of(String owner, int count) {
    return new FleetRequest(owner, count, Optional.empty());
  }

  /** The same request for GPUs of {@code id} only. */
  public FleetRequest withModel(PciId id) {
    return new FleetRequest(owner, count, Optional.of(id));
  }
}
