package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Topology;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The preset hosts: their trees read back to the expected topology and carry the documented facts. */
final class PresetsTest {
  private static final Map<String, SimulatedHost> HOSTS = new HashMap<>();
  private static final List<String> B200_GPUS = List.of("0000:17:00.0", "0000:3d:00.0",
      "0000:60:00.0", "0000:70:00.0", "0000:98:00.0", "0000:bb:00.0", "0000:dd:00.0",
      "0000:ed:00.0");

  @BeforeAll
  static void writeHosts() {
    for (String name : HostProfile.presetNames()) {
      HOSTS.put(name, SimulatedHost.create(HostProfile.preset(name)));
    }
  }

  @AfterAll
  static void deleteHosts() {
    HOSTS.values().forEach(SimulatedHost::close);
  }

  static List<String> presets() {
    return HostProfile.presetNames();
  }

  private static Topology read(String preset) {
    return ContractReader.scan(HOSTS.get(preset).sysfs());
  }

  private static PciAddress a(String bdf) {
    return PciAddress.parse(bdf);
  }

  @ParameterizedTest
  @MethodSource("presets")
  void tree_readsBackToExpectedDevices(String preset) {
    assertEquals(HOSTS.get(preset).expectedTopology().devices(), read(preset).devices(), preset);
  }

  @ParameterizedTest
  @MethodSource("presets")
  void tree_readsBackToExpectedGroups(String preset) {
    assertEquals(HOSTS.get(preset).expectedTopology().iommuGroups(), read(preset).iommuGroups(),
        preset);
  }

  @Test
  void hgxB200_gpusFollowTheContract() {
    Topology t = read("hgx-b200");
    List<String> expected = B200_GPUS.stream().map(bdf -> bdf + " 10de:2901 0x030200 a1 "
        + (bdf.compareTo("0000:80") < 0 ? 0 : 1) + " nvidia").toList();
    List<String> actual = t.gpus().stream().map(g -> g.address() + " " + g.id() + " "
        + g.pciClass() + " " + Integer.toHexString(g.revision()) + " " + g.numaNode() + " "
        + g.driver().orElse("-")).toList();
    assertEquals(expected, actual);
  }

  @Test
  void hgxB200_eachGpuIsAloneInItsGroup() {
    Topology t = read("hgx-b200");
    for (PciDevice gpu : t.gpus()) {
      assertEquals(List.of(gpu.address()), t.groupOf(gpu.address()).orElseThrow().members(),
          gpu.address().toString());
    }
  }

  @Test
  void hgxB200_moduleIdsAreNotInPciOrder() {
    Map<Integer, PciAddress> expected = Map.of(1, a("17:00.0"), 4, a("3d:00.0"), 2, a("60:00.0"),
        3, a("70:00.0"), 7, a("98:00.0"), 5, a("bb:00.0"), 8, a("dd:00.0"), 6, a("ed:00.0"));
    assertEquals(expected, HostProfile.hgxB200().moduleIds().byModuleId());
  }

  @Test
  void hgxB200_firstGpuHasModuleId1_asTheSeedPostsNvidiaSmiShows() {
    // seed 001 (Ubicloud HGX B200 post): "GPU 00000000:17:00.0 ... Module Id : 1"
    assertEquals(Optional.of(a("17:00.0")), HostProfile.hgxB200().moduleIds().address(1));
  }

  @Test
  void hgxB200_gpuLabelsFollowPciOrder() {
    List<String> labels = read("hgx-b200").gpus().stream().map(g -> g.label().orElse("-"))
        .toList();
    assertEquals(List.of("#GPU0", "#GPU1", "#GPU2", "#GPU3", "#GPU4", "#GPU5", "#GPU6", "#GPU7"),
        labels);
  }

  @Test
  void hgxB200_firstGpuSitsBehindRootPortAndSwitchAsTheSeedShows() {
    Topology t = read("hgx-b200");
    List<String> chain = t.upstreamChain(a("17:00.0")).stream().map(d -> d.address() + " "
        + d.portType().orElseThrow() + " " + d.busRange().orElseThrow()).toList();
    assertEquals(List.of("0000:16:00.0 SWITCH_DOWNSTREAM [17]",
        "0000:15:00.0 SWITCH_UPSTREAM [16-1a]", "0000:14:02.0 ROOT_PORT [15-1a]"), chain);
  }

  @Test
  void hgxB200_everyGpuIsThreeBridgeLevelsDeep() {
    Topology t = read("hgx-b200");
    assertEquals(List.of(3, 3, 3, 3, 3, 3, 3, 3), t.gpus().stream()
        .map(g -> t.upstreamChain(g.address()).size()).toList());
  }

  @Test
  void hgxB200_firstGpuHasTheBarsOfTheSeed() {
    assertEquals(List.of(new Bar(0, 0x228000000000L, 64L << 20, true, true, false),
        new Bar(2, 0x220000000000L, 256L << 30, true, true, false),
        new Bar(4, 0x228044000000L, 32L << 20, true, true, false)),
        read("hgx-b200").require(a("17:00.0")).bars());
  }

  @Test
  void hgxB200_everyGpuHasA256GBar() {
    assertTrue(read("hgx-b200").gpus().stream().allMatch(g -> g.bars().stream()
        .anyMatch(b -> b.index() == 2 && b.size() == 256L << 30 && b.prefetchable())));
  }

  @Test
  void hgxB200_connectX7NicsShareTheGpuSwitchesInTheirOwnGroups() {
    Topology t = read("hgx-b200");
    for (PciDevice gpu : t.gpus()) {
      PciDevice upstream = t.upstreamChain(gpu.address()).get(1);
      List<PciDevice> nics = t.children(upstream.address()).stream()
          .flatMap(port -> t.children(port.address()).stream())
          .filter(d -> d.id().equals(new PciId(0x15b3, 0x1021))).toList();
      assertEquals(1, nics.size(), "NICs behind the switch of " + gpu.address());
      assertNotEquals(gpu.iommuGroup(), nics.get(0).iommuGroup(), gpu.address().toString());
    }
  }

  @Test
  void hgxB200_hasNvlinkManagementPfsInsteadOfNvSwitches() {
    Topology t = read("hgx-b200");
    List<String> mgmt = t.devices().stream().filter(d -> d.address().bus() == 0x05)
        .map(d -> d.address() + " " + d.id() + " " + d.driver().orElse("-")).toList();
    assertEquals(List.of("0000:05:00.0 15b3:1021 mlx5_core", "0000:05:00.1 15b3:1021 mlx5_core",
        "0000:05:00.2 15b3:1021 mlx5_core", "0000:05:00.3 15b3:1021 mlx5_core"), mgmt);
    assertEquals(List.of(), t.nvSwitches());
  }

  @Test
  void hgxB200_isBootedForPassthrough() {
    var s = HOSTS.get("hgx-b200").sysfs();
    assertEquals(List.of(true, true, true, true), List.of(
        s.read("/proc/cmdline").contains(" intel_iommu=on iommu=pt"),
        s.isDirectory("/sys/module/vfio_pci"), s.isDirectory("/sys/bus/pci/drivers/vfio-pci"),
        s.read("/usr/share/nvidia/nvswitch/fabricmanager.cfg").contains("\nFABRIC_MODE=1\n")));
  }

  @Test
  void hgxB200_hasNvmeDrives() {
    assertEquals(2, read("hgx-b200").devices().stream()
        .filter(d -> d.pciClass().code() == 0x010802 && d.driver().equals(Optional.of("nvme")))
        .count());
  }

  @Test
  void hgxH100_hasEightGpusAndFourNvSwitchesOnTheirDrivers() {
    Topology t = read("hgx-h100");
    String summary = t.gpus().stream().map(g -> g.id() + "/" + g.driver().orElse("-"))
        .distinct().collect(Collectors.joining()) + " " + t.gpus().size() + " "
        + t.nvSwitches().stream().map(n -> n.id() + "/" + n.pciClass() + "/"
            + n.driver().orElse("-")).distinct().collect(Collectors.joining()) + " "
        + t.nvSwitches().size();
    assertEquals("10de:2330/nvidia 8 10de:22a3/0x068000/nvidia-nvswitch 4", summary);
  }

  @Test
  void hgxH100_gpuBarsAre16M128G32M() {
    assertEquals(List.of(16L << 20, 128L << 30, 32L << 20), read("hgx-h100")
        .require(a("1b:00.0")).bars().stream().map(Bar::size).toList());
  }

  @Test
  void hgxH100_gpuBarsHaveTheHopperLayout_regions024All64BitPrefetchable() {
    // fastfetch-cli/fastfetch#1658 (HGX H100 lspci -vvv); same shape as the B200's
    for (String profile : List.of("hgx-h100", "no-acs")) {
      for (PciDevice gpu : read(profile).gpus()) {
        assertEquals(List.of("0:16M:64:pref", "2:128G:64:pref", "4:32M:64:pref"),
            gpu.bars().stream().map(b -> b.index() + ":" + b.humanSize() + ":"
                + (b.is64Bit() ? "64" : "32") + ":" + (b.prefetchable() ? "pref" : "non"))
                .toList(), profile + " " + gpu.address());
      }
    }
  }

  @Test
  void hgxH100_withoutGroupEach_nvSwitchesShareOneGroup() {
    Topology t = ContractReader.readBack(HostProfile.hgxH100(false));
    assertEquals(1, t.nvSwitches().stream().map(PciDevice::iommuGroup).distinct().count());
  }

  @Test
  void hgxH100_withGroupEach_putsEveryNvSwitchInItsOwnGroup() {
    Topology t = ContractReader.readBack(HostProfile.hgxH100(true));
    for (PciDevice sw : t.nvSwitches()) {
      assertEquals(List.of(sw.address()), t.groupOf(sw.address()).orElseThrow().members());
    }
  }

  @Test
  void hgxH100_moduleIdsAreNotInPciOrder() {
    List<Integer> inPciOrder = HostProfile.hgxH100().gpus().stream()
        .map(g -> g.moduleId().getAsInt()).toList();
    assertNotEquals(inPciOrder.stream().sorted().toList(), inPciOrder);
  }

  @Test
  void workstation_gpuAndAudioShareAGroupWithTheirRootPort() {
    Topology t = read("workstation");
    assertEquals(List.of(a("00:01.0"), a("01:00.0"), a("01:00.1")),
        t.groupOf(a("01:00.1")).orElseThrow().members());
  }

  @Test
  void workstation_hasVgaGpuAndHdmiAudio() {
    Topology t = read("workstation");
    assertEquals(List.of("10de:27b0 0x030000 nvidia", "10de:22bc 0x040300 snd_hda_intel"),
        List.of(a("01:00.0"), a("01:00.1")).stream().map(t::require)
            .map(d -> d.id() + " " + d.pciClass() + " " + d.driver().orElse("-")).toList());
  }

  @Test
  void workstation_gpuIsMultifunctionInConfigSpace() {
    var s = HOSTS.get("workstation").sysfs();
    assertEquals(List.of(0x80, 0x80), List.of(
        s.readBytes("/sys/bus/pci/devices/0000:01:00.0/config")[0x0e] & 0xff,
        s.readBytes("/sys/bus/pci/devices/0000:01:00.1/config")[0x0e] & 0xff));
  }

  @Test
  void workstation_reportsNoNumaAffinity() {
    assertEquals(List.of(-1), List.copyOf(read("workstation").numaNodes()));
  }

  @Test
  void noAcs_gpuGroupAlsoHoldsTheUnrelatedNic() {
    Topology t = read("no-acs");
    IommuGroup g = t.groupOf(a("03:00.0")).orElseThrow();
    List<String> endpoints = t.members(g).stream().filter(d -> !d.isBridge())
        .map(d -> d.address() + " " + d.id()).toList();
    assertEquals(List.of("0000:03:00.0 10de:2331", "0000:04:00.0 15b3:101d"), endpoints);
  }

  @Test
  void iommuOff_hasNoGroups() {
    Topology t = read("iommu-off");
    assertEquals(List.of(false, true), List.of(t.iommuEnabled(),
        t.devices().stream().allMatch(d -> d.iommuGroup().isEmpty())));
  }

  @Test
  void iommuOff_cmdlineLacksTheIommuFlag() {
    assertTrue(!HOSTS.get("iommu-off").sysfs().read("/proc/cmdline").contains("intel_iommu=on"));
  }

  @Test
  void iommuOff_hasTheNoAcsHardware() {
    assertEquals(read("no-acs").devices().stream().map(PciDevice::address).toList(),
        read("iommu-off").devices().stream().map(PciDevice::address).toList());
  }

  @ParameterizedTest
  @MethodSource("presets")
  void portTypes_matchTheBridgeRoles(String preset) {
    Topology t = read(preset);
    for (PciDevice d : t.devices()) {
      Optional<PciePortType> expected;
      if (!d.isBridge() || d.busRange().isEmpty()) {
        continue;
      }
      if (d.portType().equals(Optional.of(PciePortType.PCIE_TO_PCI_BRIDGE))) {
        // The BMC's AST1150: below it is conventional PCI, functions without a PCIe port type.
        assertEquals(List.of(Optional.<PciePortType>empty()), t.devices().stream()
            .filter(c -> c.parent().equals(Optional.of(d.address()))).map(PciDevice::portType)
            .distinct().toList(), preset + " " + d.address());
        continue;
      }
      expected = d.parent().isEmpty() ? Optional.of(PciePortType.ROOT_PORT)
          : t.require(d.parent().get()).portType().equals(Optional.of(PciePortType.ROOT_PORT))
              || t.require(d.parent().get()).portType()
                  .equals(Optional.of(PciePortType.SWITCH_DOWNSTREAM))
              ? Optional.of(PciePortType.SWITCH_UPSTREAM) : Optional.of(PciePortType.SWITCH_DOWNSTREAM);
      assertEquals(expected, d.portType(), preset + " " + d.address());
    }
  }
}
