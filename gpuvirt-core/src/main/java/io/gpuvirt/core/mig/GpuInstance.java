package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.Objects;

/**
 * One GPU instance that exists on a GPU, as {@code nvidia-smi mig -lgi} lists it. Its id is
 * assigned by the driver (not creation-sequential) and must be read back, never predicted.
 *
 * @param id the GPU-instance id the driver assigned
 * @param profile its profile
 * @param placement where it sits; one the profile allows
 */
public record GpuInstance(int id, GpuInstanceProfile profile, MigPlacement placement) {
  /** Validates the id and that the profile allows the placement. */
  public GpuInstance {
    Objects.requireNonNull(profile, "profile");
    Objects.requireNonNull(placement, "placement");
    if (id < 0 || id > 255) {
      throw new InvalidValueException("GPU instance id " + id + " is out of range 0..255");
    }
    if (!profile.allows(placement)) {
      throw new InvalidValueException(
          "GPU instance " + id + " of profile " + profile.name() + " cannot sit at " + placement
              + "; the profile's placements are " + profile.placementText());
    }
  }
}
