package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
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
   * The eight GPUs of the simulated HGX B200 at {@code 0000:{17,3d,60,70,98,bb,dd,ed}:00.0} with
   * module ids 1, 4, 2, 3, 7, 5, 8, 6 (deliberately not PCI order).
   */
  public static List<SimulatedGpu> hgxB200() {
    String[] buses = {"17", "3d", "60", "70", "98", "bb", "dd", "ed"};
    int[] moduleIds = {1, 4, 2, 3, 7, 5, 8, 6};
    return board(buses, moduleIds, "NVIDIA B200", B200_DEVICE_ID);
  }

  /**
   * Eight H100 SXM GPUs at {@code 0000:{18,2a,3a,5d,9a,ab,ba,db}:00.0} with module ids 5, 7, 6, 8,
   * 1, 3, 2, 4 (the module-to-index order of kubeswift's HGX H100 fixture).
   */
  public static List<SimulatedGpu> hgxH100() {
    String[] buses = {"18", "2a", "3a", "5d", "9a", "ab", "ba", "db"};
    int[] moduleIds = {5, 7, 6, 8, 1, 3, 2, 4};
    return board(buses, moduleIds, "NVIDIA H100 80GB HBM3", H100_DEVICE_ID);
  }

  private static List<SimulatedGpu> board(String[] buses, int[] moduleIds, String product,
      int deviceId) {
    SimulatedGpu[] gpus = new SimulatedGpu[buses.length];
    for (int i = 0; i < buses.length; i++) {
      gpus[i] = of(moduleIds[i], PciAddress.parse("0000:" + buses[i] + ":00.0"), product, deviceId);
    }
    return List.of(gpus);
  }
}
