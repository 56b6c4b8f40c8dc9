package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.MigPlan;
import java.util.Objects;
import java.util.Optional;

/**
 * What one config asks of one GPU: the entry that selects it, the MIG mode, and (MIG enabled) the
 * plan of GPU instances on a cleared GPU, as mig-parted's apply destroys every instance first.
 *
 * @param entry the entry that selects the GPU
 * @param plan the GPU instances to create, empty when MIG is to be disabled
 */
public record MigTarget(MigConfigEntry entry, Optional<MigPlan> plan) {
  /** Validates that a plan is given exactly when MIG is enabled. */
  public MigTarget {
    Objects.requireNonNull(entry, "entry");
    Objects.requireNonNull(plan, "plan");
    if (entry.migEnabled() != plan.isPresent()) {
      throw new InvalidValueException("a plan exactly when MIG is enabled");
    }
  }
}
