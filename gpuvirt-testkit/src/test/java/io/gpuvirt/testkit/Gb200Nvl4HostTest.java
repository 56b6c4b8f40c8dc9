package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyJson;
import io.gpuvirt.core.pci.TopologyScanner;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The GB200 NVL4 preset: an aarch64 Grace host with four GPUs 10de:2941 and SMMUv3 groups. */
final class Gb200Nvl4HostTest {
  private static final List<String> GPUS = List.of("0008:01:00.0", "0009:01:00.0",
      "0018:01:00.0", "0019:01:00.0");
  private static SimulatedHost host;

  @BeforeAll
  static void writeHost() {
    host = SimulatedHost.create(HostProfile.gb200Nvl4());
  }

  @AfterAll
  static void deleteHost() {
    host.close();
  }

  private static Topology scan() {
    return TopologyScanner.scan(host.sysfs());
  }

  @Test
  void gpus_areFourGb200sOnNvidiaSplitOverTheTwoGraces() {
    List<String> actual = scan().gpus().stream().map(g -> g.address() + " " + g.id() + " "
        + g.pciClass() + " " + g.numaNode() + " " + g.driver().orElse("-")).toList();
    assertEquals(List.of("0008:01:00.0 10de:2941 0x030200 0 nvidia",
        "0009:01:00.0 10de:2941 0x030200 0 nvidia", "0018:01:00.0 10de:2941 0x030200 1 nvidia",
        "0019:01:00.0 10de:2941 0x030200 1 nvidia"), actual);
  }

  @Test
  void everyGpu_sitsAloneBehindItsOwnRootPort() {
    Topology t = scan();
    List<String> chains = t.gpus().stream().map(g -> t.upstreamChain(g.address()).stream()
        .map(d -> d.address() + " " + d.portType().orElseThrow() + " " + d.id()).toList()
        .toString() + " group " + t.groupOf(g.address()).orElseThrow().members()).toList();
    assertEquals(GPUS.stream().map(g -> "[" + g.substring(0, 5) + "00:00.0 ROOT_PORT 10de:22b2]"
        + " group [" + g + "]").toList(), chains);
  }

  @Test
  void architecture_isAarch64AsCpuinfoSays() {
    assertEquals(List.of(CpuArchitecture.AARCH64, CpuArchitecture.AARCH64),
        List.of(HostProfile.gb200Nvl4().architecture(), CpuArchitecture.of(host.sysfs())));
  }

  @Test
  void iommuUnits_areSmmuV3s() {
    List<String> units = host.sysfs().list("/sys/class/iommu");
    assertTrue(!units.isEmpty() && units.stream().allMatch(u -> u.startsWith("smmu3.0x")),
        units.toString());
  }

  @Test
  void platformUsbController_isTheNonPciMemberOfTheFirstNvmesGroup() {
    Topology t = scan();
    IommuGroup group = t.groupOf(PciAddress.parse("0000:01:00.0")).orElseThrow();
    List<IommuGroup> withPlatform = t.iommuGroups().stream()
        .filter(g -> !g.nonPciMembers().isEmpty()).toList();
    assertEquals(List.of(group), withPlatform);
    assertEquals(List.of("PNP0D10:00"), group.nonPciMembers());
  }

  @Test
  void topologyJson_withThePlatformMember_roundTrips() {
    String json = TopologyJson.toJson(scan());
    assertEquals(json, TopologyJson.toJson(TopologyJson.fromJson(json)));
  }

  @Test
  void numaNodes_areTwoGracesAndEightCpuLessNodesPerGpu() {
    Sysfs s = host.sysfs();
    assertEquals(List.of("0-33", "0-1", "0-2,10,18,26", "72-143", "", "Node 2 MemTotal:       "
            + (186L << 20) + " kB"),
        List.of(s.read("/sys/devices/system/node/online").strip(),
            s.read("/sys/devices/system/node/has_cpu").strip(),
            s.read("/sys/devices/system/node/has_memory").strip(),
            s.read("/sys/devices/system/node/node1/cpulist").strip(),
            s.read("/sys/devices/system/node/node2/cpulist").strip(),
            s.read("/sys/devices/system/node/node2/meminfo").strip()));
  }

  @Test
  void gpuMemoryNodes_nameTheirGpu() {
    List<NumaNodeSpec> gpu2 = HostProfile.gb200Nvl4().numaNodes().stream()
        .filter(n -> n.gpuMemoryOf().equals(java.util.Optional.of(PciAddress.parse(GPUS.get(2)))))
        .toList();
    assertEquals(List.of(18, 19, 20, 21, 22, 23, 24, 25), gpu2.stream().map(NumaNodeSpec::id)
        .toList());
  }

  @Test
  void bindThroughOverride_toTheGraceVariantDriver_createsTheGroupsVfioNode() {
    try (SimulatedHost h = SimulatedHost.create(HostProfile.gb200Nvl4())) {
      Sysfs s = h.sysfs();
      PciAddress gpu = PciAddress.parse(GPUS.get(0));
      int group = TopologyScanner.scan(s).device(gpu).orElseThrow().iommuGroup().getAsInt();
      s.write(gpu.sysfsPath("driver_override"), "nvgrace_gpu_vfio_pci");
      s.write(gpu.sysfsPath("driver") + "/unbind", gpu.toString());
      s.write("/sys/bus/pci/drivers_probe", gpu.toString());
      PciDevice bound = TopologyScanner.scan(s).device(gpu).orElseThrow();
      assertEquals(List.of("nvgrace_gpu_vfio_pci", true),
          List.of(bound.driver().orElse("-"), s.exists("/dev/vfio/" + group)));
    }
  }

  @Test
  void unbindFromTheGraceVariantDriver_removesTheGroupsVfioNode() {
    try (SimulatedHost h = SimulatedHost.create(HostProfile.gb200Nvl4())) {
      Sysfs s = h.sysfs();
      PciAddress gpu = PciAddress.parse(GPUS.get(3));
      int group = TopologyScanner.scan(s).device(gpu).orElseThrow().iommuGroup().getAsInt();
      s.write(gpu.sysfsPath("driver_override"), "nvgrace_gpu_vfio_pci");
      s.write(gpu.sysfsPath("driver") + "/unbind", gpu.toString());
      s.write("/sys/bus/pci/drivers_probe", gpu.toString());
      s.write(gpu.sysfsPath("driver") + "/unbind", gpu.toString());
      assertEquals(false, s.exists("/dev/vfio/" + group));
    }
  }

  @Test
  void lspciTree_showsEachGpuInASegmentOfItsOwn() {
    String tree = Tools.lspci(host, "-tvn", "-d", "10de:2941");
    List<String> lines = tree.lines().filter(l -> l.contains("10de:2941")).toList();
    assertEquals(4, lines.size(), tree);
    for (String gpu : GPUS) {
      assertTrue(tree.contains("[" + gpu.substring(0, 4) + ":00]---00.0-[01]----00.0"), tree);
    }
  }

  @Test
  void lspciKernel_showsTheVariantDriverAsTheBoundOneAfterABind() {
    try (SimulatedHost h = SimulatedHost.create(HostProfile.gb200Nvl4())) {
      Sysfs s = h.sysfs();
      PciAddress gpu = PciAddress.parse(GPUS.get(1));
      s.write(gpu.sysfsPath("driver_override"), "nvgrace_gpu_vfio_pci");
      s.write(gpu.sysfsPath("driver") + "/unbind", gpu.toString());
      s.write("/sys/bus/pci/drivers_probe", gpu.toString());
      String out = Tools.lspci(h, "-k", "-s", gpu.toString());
      assertTrue(out.contains("Kernel driver in use: nvgrace_gpu_vfio_pci"), out);
    }
  }
}
