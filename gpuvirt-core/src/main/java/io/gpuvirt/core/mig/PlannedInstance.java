package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.Objects;

/**
 * One GPU instance a {@link MigPlan} creates: the profile and the placement it will get.
 *
 * @param profile the profile
 * @param placement where it goes; one the profile allows
 */
public record PlannedInstance(GpuInstanceProfile profile, MigPlacement placement) {
  /** Validates that the profile allows the placement. */
  public PlannedInstance {
    Objects.requireNonNull(profile, "profile");
    Objects.requireNonNull(placement, "placement");
    if (!profile.allows(placement)) {
      throw new InvalidValueException(
          "planned " + profile.name() + " cannot sit at " + placement + "; its placements are "
              + profile.placementText());
    }
  }

  /** {@code 3g.90gb@4:4}. */
  @Override
  public String toString() {
    return profile.name() + "@" + placement;
  }
}
