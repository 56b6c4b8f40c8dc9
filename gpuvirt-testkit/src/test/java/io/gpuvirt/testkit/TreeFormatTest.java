package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The files of a simulated host have the formats the kernel writes (SYSFS.md §1-4). */
final class TreeFormatTest {
  private static SimulatedHost host;
  private static Sysfs sysfs;
  private static Topology topology;

  @BeforeAll
  static void writeHost() {
    host = SimulatedHost.hgxB200();
    sysfs = host.sysfs();
    topology = host.expectedTopology();
  }

  @AfterAll
  static void deleteHost() {
    host.close();
  }

  private static String attr(String bdf, String name) {
    return sysfs.read("/sys/bus/pci/devices/" + bdf + "/" + name);
  }

  @Test
  void idFiles_useTheKernelFormats() {
    String bdf = "0000:17:00.0";
    assertEquals(List.of("0x10de\n", "0x2901\n", "0x030200\n", "0xa1\n", "0x10de\n", "0x1999\n"),
        List.of(attr(bdf, "vendor"), attr(bdf, "device"), attr(bdf, "class"),
            attr(bdf, "revision"), attr(bdf, "subsystem_vendor"), attr(bdf, "subsystem_device")));
  }

  @Test
  void resource_hasThirteenLinesForEndpointsAndSeventeenForBridges() {
    List<String> wrong = new ArrayList<>();
    for (PciDevice d : topology.devices()) {
      long lines = attr(d.address().toString(), "resource").lines().count();
      if (lines != (d.isBridge() ? 17 : 13)) {
        wrong.add(d.address() + ":" + lines);
      }
    }
    assertEquals(List.of(), wrong);
  }

  @Test
  void resource_linesAreThreeSixteenDigitHexNumbers() {
    for (PciDevice d : topology.devices()) {
      String resource = attr(d.address().toString(), "resource");
      assertTrue(resource.matches("(0x[0-9a-f]{16} 0x[0-9a-f]{16} 0x[0-9a-f]{16}\n)+"),
          d.address() + ": " + resource);
    }
  }

  @Test
  void resource_gpuLinesMatchTheReference() {
    List<String> lines = attr("0000:17:00.0", "resource").lines().limit(5).toList();
    assertEquals(List.of(
        "0x0000228000000000 0x0000228003ffffff 0x000000000014220c",
        "0x0000000000000000 0x0000000000000000 0x0000000000000000",
        "0x0000220000000000 0x0000223fffffffff 0x000000000014220c",
        "0x0000000000000000 0x0000000000000000 0x0000000000000000",
        "0x0000228044000000 0x0000228045ffffff 0x000000000014220c"), lines);
  }

  @Test
  void resource_bridgeWindowCoversTheGpuBars() {
    String window = attr("0000:16:00.0", "resource").lines().toList().get(15);
    assertEquals("0x0000220000000000 0x0000228045ffffff 0x0000000000102201", window);
  }

  @Test
  void config_barRegistersMatchResource() {
    byte[] c = sysfs.readBytes("/sys/bus/pci/devices/0000:17:00.0/config");
    long bar2 = (u32(c, 0x18) & ~0xfL) | u32(c, 0x1c) << 32;
    assertEquals(List.of(0x220000000000L, 0xcL), List.of(bar2, u32(c, 0x18) & 0xf));
  }

  @Test
  void config_headerHasIdsCommandStatusAndType() {
    byte[] c = sysfs.readBytes("/sys/bus/pci/devices/0000:17:00.0/config");
    assertEquals(List.of(4096, 0x10de, 0x2901, 0x2, 0x10, 0, 0xa1, 0x030200),
        List.of(c.length, u16(c, 0), u16(c, 2), u16(c, 4) & 0x2, u16(c, 6) & 0x10,
            c[0x0e] & 0xff, c[8] & 0xff, (int) (u32(c, 8) >>> 8)));
  }

  @Test
  void config_bridgeHeaderCarriesItsBusNumbers() {
    byte[] c = sysfs.readBytes("/sys/bus/pci/devices/0000:14:02.0/config");
    assertEquals(List.of(1, 0x14, 0x15, 0x1a), List.of(c[0x0e] & 0x7f, c[0x18] & 0xff,
        c[0x19] & 0xff, c[0x1a] & 0xff));
  }

  @Test
  void busNumbers_areDecimalFilesOnBridgesOnly() {
    assertEquals(List.of("21\n", "26\n", false), List.of(attr("0000:14:02.0",
        "secondary_bus_number"), attr("0000:14:02.0", "subordinate_bus_number"),
        sysfs.exists("/sys/bus/pci/devices/0000:17:00.0/secondary_bus_number")));
  }

  @Test
  void pciBus_existsOnBridgesOnly() {
    assertEquals(List.of(true, false), List.of(
        sysfs.isDirectory("/sys/bus/pci/devices/0000:14:02.0/pci_bus/0000:15"),
        sysfs.exists("/sys/bus/pci/devices/0000:17:00.0/pci_bus")));
  }

  @Test
  void driverOverride_readsNullWhenUnset() {
    assertEquals("(null)\n", attr("0000:17:00.0", "driver_override"));
  }

  @Test
  void reset_existsOnGpusAndNicsButNotOnBridges() {
    assertEquals(List.of(true, true, false), List.of(
        sysfs.exists("/sys/bus/pci/devices/0000:17:00.0/reset"),
        sysfs.exists("/sys/bus/pci/devices/0000:18:00.0/reset"),
        sysfs.exists("/sys/bus/pci/devices/0000:16:00.0/reset")));
  }

  @Test
  void deviceLinks_areRelativeAndLeadIntoTheNestedTree() {
    assertEquals(List.of("../../../devices/pci0000:14/0000:14:02.0/0000:15:00.0/0000:16:00.0/"
        + "0000:17:00.0", "/sys/devices/pci0000:14/0000:14:02.0/0000:15:00.0/0000:16:00.0/"
        + "0000:17:00.0"), List.of(sysfs.readLink("/sys/bus/pci/devices/0000:17:00.0")
        .orElseThrow(), sysfs.canonicalPath("/sys/bus/pci/devices/0000:17:00.0")));
  }

  @Test
  void driverLinks_pointBothWays() {
    assertEquals(List.of("nvidia", "/sys/devices/pci0000:14/0000:14:02.0/0000:15:00.0/"
        + "0000:16:00.0/0000:17:00.0"), List.of(
        ContractReader.basename(sysfs.readLink("/sys/bus/pci/devices/0000:17:00.0/driver")
            .orElseThrow()),
        sysfs.canonicalPath("/sys/bus/pci/drivers/nvidia/0000:17:00.0")));
  }

  @Test
  void driverDirectories_haveTheirControlFiles() {
    assertEquals(List.of("0000:17:00.0", "bind", "module", "new_id", "remove_id", "unbind"),
        sysfs.list("/sys/bus/pci/drivers/nvidia").stream()
            .filter(n -> !n.startsWith("0000:") || n.equals("0000:17:00.0"))
            .filter(n -> !n.equals("uevent")).toList());
  }

  @Test
  void iommuGroups_linkTheirMembers() {
    int group = topology.require(PciAddress.parse("17:00.0")).iommuGroup().getAsInt();
    assertEquals(List.of(List.of("0000:17:00.0"), "identity\n"), List.of(
        sysfs.list("/sys/kernel/iommu_groups/" + group + "/devices"),
        sysfs.read("/sys/kernel/iommu_groups/" + group + "/type")));
  }

  @Test
  void label_namesTheGpuSlot() {
    assertEquals("#GPU0\n", attr("0000:17:00.0", "label"));
  }

  @Test
  void modalias_followsTheKernelFormat() {
    assertEquals("pci:v000010DEd00002901sv000010DEsd00001999bc03sc02i00\n",
        attr("0000:17:00.0", "modalias"));
  }

  @Test
  void numaNode_isWrittenPerDevice() {
    assertEquals(List.of("0\n", "1\n"), List.of(attr("0000:17:00.0", "numa_node"),
        attr("0000:98:00.0", "numa_node")));
  }

  @Test
  void sriovFiles_describeThePhysicalFunction() {
    assertEquals(List.of("8\n", "0\n", "1\n", "1\n", "101e\n"), List.of(
        attr("0000:18:00.0", "sriov_totalvfs"), attr("0000:18:00.0", "sriov_numvfs"),
        attr("0000:18:00.0", "sriov_offset"), attr("0000:18:00.0", "sriov_stride"),
        attr("0000:18:00.0", "sriov_vf_device")));
  }

  @Test
  void hostFiles_existAsOnAPreparedHost() {
    assertEquals(List.of(true, true, true, true, true), List.of(
        sysfs.isDirectory("/etc/modprobe.d"), sysfs.isDirectory("/etc/modules-load.d"),
        sysfs.exists("/sys/bus/pci/drivers_probe"), sysfs.exists("/dev/vfio/vfio"),
        sysfs.isDirectory("/sys/class/iommu/dmar0")));
  }

  @Test
  void fabricManagerCfg_keepsTheShippedTrailingSpace() {
    assertTrue(sysfs.read("/usr/share/nvidia/nvswitch/fabricmanager.cfg")
        .contains("\nFM_CMD_BIND_INTERFACE=127.0.0.1 \n"));
  }

  @Test
  void profileExtraFiles_areWritten() {
    HostProfile p = HostProfile.workstation().toBuilder()
        .file("/etc/modprobe.d/vfio.conf", "options vfio-pci ids=10de:27b0,10de:22bc\n").build();
    try (SimulatedHost h = SimulatedHost.create(p)) {
      assertEquals("options vfio-pci ids=10de:27b0,10de:22bc\n",
          h.sysfs().read("/etc/modprobe.d/vfio.conf"));
    }
  }

  private static int u16(byte[] c, int off) {
    return (c[off] & 0xff) | (c[off + 1] & 0xff) << 8;
  }

  private static long u32(byte[] c, int off) {
    return (u16(c, off) | (long) u16(c, off + 2) << 16) & 0xffffffffL;
  }
}
