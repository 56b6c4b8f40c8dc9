package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * One MIG GPU instance a lease holds: the GPU, the profile, where it sits and, once the driver
 * created it, its GPU-instance id. The placement is recorded before the instance is created (the
 * driver puts a new instance where {@link MigLayout#driverPlacement} says), so after a crash the
 * instance is found by GPU, profile and placement; the id is the driver's, read back.
 *
 * @param gpu the GPU's PCI address
 * @param profile the GPU-instance profile name, e.g. {@code 3g.90gb}
 * @param profileId the profile id ({@code nvidia-smi mig -cgi ID})
 * @param placement the instance's memory slices
 * @param gpuInstanceId the driver's id, empty while the instance is being created
 */
public record MigAssignment(PciAddress gpu, String profile, int profileId, MigPlacement placement,
    OptionalInt gpuInstanceId) {
  public MigAssignment {
    Objects.requireNonNull(gpu, "gpu");
    GpuInstanceProfile.checkName(Objects.requireNonNull(profile, "profile"));
    Objects.requireNonNull(placement, "placement");
    Objects.requireNonNull(gpuInstanceId, "gpuInstanceId");
    if (profileId < 0 || profileId > 255) {
      throw new InvalidValueException("MIG profile id " + profileId + " of " + profile + " on "
          + gpu + " is out of range 0..255");
    }
  }

  /** The same assignment with the driver's id. */
  public MigAssignment withGpuInstanceId(int id) {
    return new MigAssignment(gpu, profile, profileId, placement, OptionalInt.of(id));
  }

  /** A key unique per host: {@code 0000:17:00.0/4:4}. */
  public String key() {
    return gpu + "/" + placement;
  }

  @Override
  public String toString() {
    return profile + " at " + placement + " on " + gpu + gpuInstanceId.stream()
        .mapToObj(id -> " (GPU instance " + id + ")").findFirst().orElse("");
  }
}
