package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Sysfs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Scans the real {@code /} of the machine the tests run on (a CI machine: virtio devices, usually
 * no IOMMU groups). The scan must succeed and say plainly what it found.
 */
final class RealHostTopologyTest {

  private static long entries(String dir) throws IOException {
    Path p = Path.of(dir);
    if (!Files.isDirectory(p)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(p)) {
      return s.count();
    }
  }

  @Test
  void summary_thisMachine_saysWhetherTheIommuHasGroups() throws IOException {
    Topology t = TopologyScanner.scan(Sysfs.host());
    System.out.println(t.summary() + "\n" + t.renderTree());
    long groups = entries("/sys/kernel/iommu_groups");
    String expected = groups == 0 ? "IOMMU off: /sys/kernel/iommu_groups is empty"
        : "IOMMU on: " + groups + (groups == 1 ? " group" : " groups");
    assertTrue(t.summary().contains(expected), t.summary());
  }

  @Test
  void scan_thisMachine_findsEveryDeviceTheKernelLists() throws IOException {
    assertEquals(entries("/sys/bus/pci/devices"), TopologyScanner.scan(Sysfs.host()).devices().size());
  }

  @Test
  void renderTree_thisMachine_drawsOneLinePerDeviceWithoutChildren() {
    Topology t = TopologyScanner.scan(Sysfs.host());
    assertEquals(t.devices().stream().filter(d -> t.children(d.address()).isEmpty()).count(),
        t.renderTree().lines().count());
  }
}
