package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.Sysfs;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TopologyRendererTest {
  @TempDir Path root;

  private Topology hgx() {
    Hosts.hgxSlice(new SysfsTree(root));
    return TopologyScanner.scan(Sysfs.at(root));
  }

  /** Two domains, an NVSwitch, a device on its own root bus and a host bridge. */
  private Topology multiDomain() {
    SysfsTree t = new SysfsTree(root);
    t.add("0000:00:00.0").pciClass(0x060000);
    t.add("0000:00:1f.3").pciClass(0x040300).id(0x8086, 0x7a50);
    SysfsTree.Dev rp = t.add("0001:05:00.0").bridge(0x06, 0x07, PciePortType.ROOT_PORT);
    SysfsTree.Dev up = t.add("0001:06:00.0", rp).bridge(0x07, 0x07, PciePortType.SWITCH_UPSTREAM);
    t.add("0001:07:00.0", up).id(0x10de, 0x22a3).pciClass(0x068000).driver("nvidia-nvswitch")
        .iommuGroup(114).numa(0).bar(0, 0x90000000L, 32 * Hosts.M, Hosts.MEM64);
    t.add("0001:07:01.0", up).id(0x10de, 0x22a3).pciClass(0x068000).iommuGroup(114);
    t.add("0000:80:00.0").id(0x10de, 0x2330).pciClass(0x030200);
    return TopologyScanner.scan(Sysfs.at(root));
  }

  @Test
  void renderTree_hgxSlice_drawsTheLspciTreeWithAnnotations() {
    assertEquals(String.join("\n",
        "-+-[0000:00]-+-00.0  8086:09a2 [0600]",
        " |           \\-01.0-[01]--+-00.0  10de:27b0 [0300] GPU, driver nvidia, IOMMU group 3,"
            + " NUMA 1, BARs 16M/256M/128",
        " |                        \\-00.1  10de:22bc [0403], driver snd_hda_intel",
        " \\-[0000:14]---02.0-[15-1a]----00.0-[16-1a]--+-00.0-[17]----00.0  10de:2901 [0302] GPU"
            + " #GPU0, driver nvidia, IOMMU group 17, NUMA 0, BARs 64M/256G/32M",
        "                                             +-01.0-[18]--+-00.0  15b3:1021 [0207],"
            + " driver mlx5_core",
        "                                             |            +-00.2  15b3:101e [0207]",
        "                                             |            \\-00.3  15b3:101e [0207],"
            + " driver vfio-pci",
        "                                             +-02.0-[19]----00.0  10de:2901 [0302] GPU,"
            + " driver nvidia, IOMMU group 19, NUMA 0, BARs 64M/256G/32M",
        "                                             \\-03.0-[1a]--",
        ""), hgx().renderTree());
  }

  @Test
  void renderTree_singleRootBus_startsWithTheBusLikeLspci() {
    SysfsTree t = new SysfsTree(root);
    SysfsTree.Dev rp = t.add("0000:14:02.0").bridge(0x15, 0x15, PciePortType.ROOT_PORT);
    t.add("0000:15:00.0", rp).id(0x10de, 0x2901).pciClass(0x030200);
    assertEquals("-[0000:14]---02.0-[15]----00.0  10de:2901 [0302] GPU, no driver,"
        + " no IOMMU group, no NUMA node\n",
        TopologyScanner.scan(Sysfs.at(root)).renderTree());
  }

  @Test
  void renderTree_nvSwitch_isAnnotatedLikeAGpu() {
    assertTrue(multiDomain().renderTree().contains("00.0  10de:22a3 [0680] NVSwitch,"
        + " driver nvidia-nvswitch, IOMMU group 114, NUMA 0, BARs 32M\n"));
  }

  @Test
  void renderTree_labelWithTreeCharacters_doesNotLeakIntoLaterLines() {
    SysfsTree t = new SysfsTree(root);
    t.add("0000:00:01.0").id(0x10de, 0x2901).pciClass(0x030200).label("A+B|C");
    t.add("0000:00:02.0");
    assertEquals(List.of("-[0000:00]-+-01.0", "           \\-02.0"),
        TopologyScanner.scan(Sysfs.at(root)).renderTree().lines()
            .map(l -> l.substring(0, l.indexOf("  ") < 0 ? l.length() : l.indexOf("  ", 12)))
            .toList());
  }

  @Test
  void renderTree_noDevices_isEmpty() {
    assertEquals("", new Topology("nothing", List.of(), List.of()).renderTree());
  }

  @Test
  void renderTree_deviceWithChildrenButNoBusFiles_isDrawnAsABridgeOverItsChildrenBuses() {
    PciDevice bridge = PciDevice.builder(PciAddress.parse("0000:00:01.0")).build();
    PciDevice child = PciDevice.builder(PciAddress.parse("0000:03:00.0")).rootBus("0000:00")
        .parent(bridge.address()).build();
    assertEquals("-[0000:00]---01.0-[03]----00.0  ffff:ffff [0000]\n",
        new Topology("memory", List.of(bridge, child), List.of()).renderTree());
  }

  @Test
  void tree_hgxSlice_isWhatLspciDrawsForTheSameTree() {
    String ours = TopologyRenderer.tree(hgx(), false);
    assertEquals(lspciTree(), ours);
  }

  @Test
  void tree_multipleDomainsAndRootBuses_isWhatLspciDraws() {
    String ours = TopologyRenderer.tree(multiDomain(), false);
    assertEquals(lspciTree(), ours);
  }

  private String lspciTree() {
    Path lspci = ExternalTools.require("lspci");
    CommandResult r = CommandRunner.system().run(Command.of(lspci.toString(), "-t",
        "-A", "linux-sysfs", "-O", "sysfs.path=" + root.resolve("sys/bus/pci")));
    assertEquals(0, r.exitCode(), r.stderr());
    return r.stdout();
  }
}
