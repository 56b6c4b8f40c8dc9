package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.Objects;

/**
 * One compute instance inside a GPU instance, as {@code nvidia-smi mig -lci} lists it
 * ({@code GPU | GPU Instance ID | Name | Profile ID | Instance ID}).
 *
 * @param id the compute-instance id within its GPU instance
 * @param gpuInstanceId the GPU instance it belongs to
 * @param profileName the compute-instance profile name without {@code MIG }, e.g. {@code 1c.3g.20gb}
 *     or, for the default full-size one, the GPU-instance name ({@code 3g.20gb})
 * @param profileId the compute-instance profile id (0 for {@code 1c.*})
 */
public record ComputeInstance(int id, int gpuInstanceId, String profileName, int profileId) {
  /** Validates the ids and the name. */
  public ComputeInstance {
    Objects.requireNonNull(profileName, "profileName");
    if (id < 0 || id > 255 || gpuInstanceId < 0 || gpuInstanceId > 255) {
      throw new InvalidValueException(
          "compute instance " + id + " of GPU instance " + gpuInstanceId
              + ": ids must be in 0..255");
    }
    if (profileId < 0 || profileId > 255) {
      throw new InvalidValueException(
          "compute instance " + id + ": profile id " + profileId + " is out of range 0..255");
    }
    if (!profileName.matches("([1-8]c\\.)?[1-8]g\\.[0-9]+gb(\\+[a-z.]+|-[a-z]+)?")) {
      throw new InvalidValueException(
          "compute instance " + id + ": profile name '" + profileName
              + "' is not of the form [Nc.]Ng.Mgb (e.g. 1c.3g.20gb)");
    }
  }
}
