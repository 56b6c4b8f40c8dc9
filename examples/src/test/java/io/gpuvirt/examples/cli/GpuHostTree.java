package io.gpuvirt.examples.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a small sysfs tree that {@code TopologyScanner} reads: GPUs 10de:2901, GPU {@code i} at
 * {@code 0000:(0x11+2i):00.0} behind root port {@code 0000:(0x10+2i):02.0} on root bus
 * {@code pci0000:(0x10+2i)}, in IOMMU group {@code 10+i}, bound to {@code nvidia}; the first half on
 * NUMA node 0, the rest on node 1.
 */
final class GpuHostTree {
  private GpuHostTree() {}

  static String gpu(int i) {
    return String.format("0000:%02x:00.0", 0x11 + 2 * i);
  }

  static void write(Path root, int gpus) throws IOException {
    Path devices = Files.createDirectories(root.resolve("sys/bus/pci/devices"));
    Files.createDirectories(root.resolve("sys/bus/pci/drivers/nvidia"));
    Files.createDirectories(root.resolve("sys/bus/pci/drivers/pcieport"));
    for (int i = 0; i < gpus; i++) {
      int bus = 0x10 + 2 * i;
      String rootBus = String.format("pci0000:%02x", bus);
      String portName = String.format("0000:%02x:02.0", bus);
      String gpuName = gpu(i);
      Path port = root.resolve("sys/devices/" + rootBus + "/" + portName);
      Path gpu = port.resolve(gpuName);
      attributes(port, "0x8086", "0x352a", "0x060400");
      Files.writeString(port.resolve("secondary_bus_number"), (bus + 1) + "\n");
      Files.writeString(port.resolve("subordinate_bus_number"), (bus + 1) + "\n");
      attributes(gpu, "0x10de", "0x2901", "0x030200");
      Files.writeString(gpu.resolve("numa_node"), (i < (gpus + 1) / 2 ? 0 : 1) + "\n");
      Files.writeString(gpu.resolve("resource"),
          "0x0000228000000000 0x0000228003ffffff 0x000000000014220c\n"
          + "0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(12));
      Files.createSymbolicLink(devices.resolve(portName),
          Path.of("../../../devices/" + rootBus + "/" + portName));
      Files.createSymbolicLink(devices.resolve(gpuName),
          Path.of("../../../devices/" + rootBus + "/" + portName + "/" + gpuName));
      Path group = Files.createDirectories(
          root.resolve("sys/kernel/iommu_groups/" + (10 + i) + "/devices"));
      Files.createSymbolicLink(group.resolve(gpuName),
          Path.of("../../../../devices/" + rootBus + "/" + portName + "/" + gpuName));
      Files.createSymbolicLink(gpu.resolve("iommu_group"),
          Path.of("../../../../kernel/iommu_groups/" + (10 + i)));
      bind(root, gpuName, "nvidia");
    }
  }

  /** Points a device's {@code driver} link at {@code driver}. */
  static void bind(Path root, String bdf, String driver) throws IOException {
    Path dir = root.resolve("sys/bus/pci/devices").resolve(bdf).toRealPath();
    Files.createDirectories(root.resolve("sys/bus/pci/drivers").resolve(driver));
    Files.deleteIfExists(dir.resolve("driver"));
    Files.createSymbolicLink(dir.resolve("driver"),
        dir.relativize(root.resolve("sys/bus/pci/drivers").resolve(driver).toRealPath()));
  }

  private static void attributes(Path dir, String vendor, String device, String pciClass)
      throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("vendor"), vendor + "\n");
    Files.writeString(dir.resolve("device"), device + "\n");
    Files.writeString(dir.resolve("class"), pciClass + "\n");
    Files.writeString(dir.resolve("resource"),
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(13));
  }
}
