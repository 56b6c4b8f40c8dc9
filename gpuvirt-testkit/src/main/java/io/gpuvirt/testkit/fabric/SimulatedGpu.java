package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.HostProfile;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;

/**
 * A baseboard GPU as Fabric Manager and {@code nvidia-smi} see it: its module id and its PCI address,
 * which do not follow each other's order.
 *
 * @param moduleId the module (physical) id Fabric Manager partitions name
 * @param address the PCI address
 * @param uuid the GPU UUID ({@code GPU-...})
 * @param productName what {@code nvidia-smi} prints as Product Name
 * @param pciDeviceId the PCI device id ({@code 0x2901} for B200)
 */
public record SimulatedGpu(int moduleId, PciAddress address, String uuid, String productName,
    int pciDeviceId) {
  /** B200's PCI device id. */
  public static final int B200_DEVICE_ID = 0x2901;
  /** H100 SXM5 80GB's PCI device id. */
  public static final int H100_DEVICE_ID = 0x2330;

  public SimulatedGpu {
    if (moduleId < 0) {
      throw new InvalidValueException("module id must be 0 or more, was " + moduleId);
    }
    if (!uuid.startsWith("GPU-")) {
      throw new InvalidValueException("GPU UUID must start with 'GPU-', was '" + uuid + "'");
    }
    if (pciDeviceId < 0 || pciDeviceId > 0xffff) {
      throw new InvalidValueException("PCI device id out of range: " + pciDeviceId);
    }
  }

  /** A GPU with a UUID derived from its address, so the same host always has the same UUIDs. */
  public static SimulatedGpu of(int moduleId, PciAddress address, String productName,
      int pciDeviceId) {
    String uuid = "GPU-" + UUID.nameUUIDFromBytes(
        (productName + "@" + address).getBytes(StandardCharsets.UTF_8));
    return new SimulatedGpu(moduleId, address, uuid, productName, pciDeviceId);
  }

  /**
   * The eight GPUs of {@link HostProfile#hgxB200()}: {@code 0000:{17,3d,60,70,98,bb,dd,ed}:00.0}
   * with module ids 1, 4, 2, 3, 7, 5, 8, 6 (17:00.0 is module 1 as the seed post shows; the rest
   * deliberately not in PCI order). Read from the profile, so the two never disagree.
   */
  public static List<SimulatedGpu> hgxB200() {
    return fromProfile(HostProfile.hgxB200(), "NVIDIA B200");
  }

  /**
   * The eight H100 SXM GPUs of {@link HostProfile#hgxH100()} with their module ids, read from the
   * profile, so a simulated Fabric Manager and the simulated host agree on every BDF.
   */
  public static List<SimulatedGpu> hgxH100() {
    return fromProfile(HostProfile.hgxH100(), "NVIDIA H100 80GB HBM3");
  }

  private static List<SimulatedGpu> fromProfile(HostProfile profile, String product) {
    return profile.devices().stream().filter(d -> d.moduleId().isPresent())
        .map(d -> of(d.moduleId().getAsInt(), d.address(), product, d.id().device())).toList();
  }
}
