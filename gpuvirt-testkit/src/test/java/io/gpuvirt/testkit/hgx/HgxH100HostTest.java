package io.gpuvirt.testkit.hgx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HGX H100 presets as the real scanner and allocator see them: NVSwitches each in a group,
 * a ConnectX NIC on each GPU's switch that no GPU lease takes, the BMC's ASPEED VGA that is never a
 * GPU, and the variant where two GPUs share a group.
 */
final class HgxH100HostTest {
  private static final PciId NVSWITCH = new PciId(0x10de, 0x22a3);
  private static final PciId CONNECTX7 = new PciId(0x15b3, 0x1021);
  private static final PciAddress BMC_VGA_H100 = PciAddress.parse("0000:0d:00.0");
  private static final PciAddress BMC_VGA_B200 = PciAddress.parse("0000:09:00.0");
  private static final Instant NOW = Instant.parse("2026-12-03T12:00:00Z");

  @TempDir static Path dir;

  private static Topology scan(HostProfile profile) {
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      return TopologyScanner.scan(host.sysfs());
    }
  }

  private static Lease allocate(Topology t, int count, DeviceSelector selector) {
    // a fresh ledger each time: every request here is the first on its host
    try {
      return LeaseLedger.open(Files.createTempDirectory(dir, "state"), Clock.fixed(NOW,
          ZoneOffset.UTC)).allocate(AllocationRequest.builder("vm-a").count(count)
          .selector(selector).build(), t);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<PciAddress> addresses(Lease lease) {
    return lease.devices().stream().map(LeasedDevice::address).toList();
  }

  @Test
  void hgxH100_eachNvSwitch_isAloneInItsGroupAndSoAreItsSwitchPorts() {
    Topology t = scan(HostProfile.hgxH100());
    List<PciDevice> switches = t.devices().stream().filter(d -> d.id().equals(NVSWITCH)).toList();
    assertEquals(4, switches.size());
    for (PciDevice sw : switches) {
      assertEquals(List.of(sw.address()), t.groupOf(sw.address()).orElseThrow().members());
      PciDevice port = t.require(sw.parent().orElseThrow());
      assertEquals(Optional.of(PciePortType.SWITCH_DOWNSTREAM), port.portType());
      assertEquals(List.of(port.address()), t.groupOf(port.address()).orElseThrow().members());
      PciDevice upstream = t.require(port.parent().orElseThrow());
      assertEquals(Optional.of(PciePortType.SWITCH_UPSTREAM), upstream.portType());
      assertEquals(List.of(upstream.address()),
          t.groupOf(upstream.address()).orElseThrow().members());
    }
  }

  @Test
  void hgxH100_everyGpuSwitch_hasAConnectXNicInItsOwnGroup() {
    Topology t = scan(HostProfile.hgxH100());
    assertEquals(8, t.gpus().size());
    for (PciDevice gpu : t.gpus()) {
      PciDevice upstream = t.require(t.require(gpu.parent().orElseThrow()).parent().orElseThrow());
      List<PciDevice> nics = t.devices().stream().filter(d -> d.id().equals(CONNECTX7))
          .filter(d -> t.upstreamChain(d.address()).stream()
              .anyMatch(b -> b.address().equals(upstream.address())))
          .toList();
      assertEquals(1, nics.size(), "NICs on the switch of " + gpu.address());
      PciDevice nic = nics.get(0);
      assertEquals(List.of(nic.address()), t.groupOf(nic.address()).orElseThrow().members());
      assertEquals(t.commonSwitch(gpu.address(), nic.address()).map(PciDevice::address),
          Optional.of(upstream.address()));
    }
  }

  @Test
  void allocate_allEightH100Gpus_takesNoNicNoNvSwitchAndNoBmcVga() {
    Topology t = scan(HostProfile.hgxH100());
    Lease lease = allocate(t, 8, DeviceSelector.parse("gpu"));
    assertEquals(8, lease.devices().size(), lease.devices().toString());
    for (LeasedDevice d : lease.devices()) {
      assertEquals(PciId.NVIDIA, d.id().vendor(), d.address().toString());
      assertEquals(0x0302, d.pciClass().baseAndSub(), d.address().toString());
    }
  }

  @Test
  void bmcVga_isAVgaClassDeviceButNeverAGpu() {
    for (HostProfile profile : List.of(HostProfile.hgxH100(), HostProfile.hgxB200())) {
      PciAddress vga = profile.name().equals("hgx-b200") ? BMC_VGA_B200 : BMC_VGA_H100;
      Topology t = scan(profile);
      PciDevice bmc = t.require(vga);
      assertEquals(new PciId(0x1a03, 0x2000), bmc.id());
      assertEquals(0x0300, bmc.pciClass().baseAndSub());
      assertFalse(bmc.isGpu(), profile.name());
      assertFalse(t.gpus().contains(bmc), profile.name());
      assertFalse(profile.gpus().stream().anyMatch(d -> d.address().equals(vga)), profile.name());
      // its own bridge: the AST1150, alone with it in a group
      PciDevice bridge = t.require(bmc.parent().orElseThrow());
      assertEquals(new PciId(0x1a03, 0x1150), bridge.id());
      assertEquals(List.of(bridge.address(), vga), t.groupOf(vga).orElseThrow().members());
    }
  }

  @Test
  void bmcVga_isNeverChosen_byAnySelector() {
    Topology t = scan(HostProfile.hgxH100());
    for (String selector : List.of("gpu", "class:0300", "1a03:2000")) {
      DeviceSelector s = DeviceSelector.parse(selector);
      assertFalse(s.matches(t.require(BMC_VGA_H100)), selector);
    }
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate(t, 1, DeviceSelector.parse("class:0300")));
    assertTrue(e.getMessage().contains("no device matches class:0300"), e.getMessage());
    for (int n = 1; n <= 8; n++) {
      assertFalse(addresses(allocate(t, n, DeviceSelector.parse("gpu"))).contains(BMC_VGA_H100));
    }
  }

  @Test
  void topology_tree_doesNotCallTheBmcVgaAGpu() {
    Topology t = scan(HostProfile.hgxB200());
    String tree = t.renderTree();
    String line = tree.lines().filter(l -> l.contains("09.0") || l.contains("1a03:2000"))
        .findFirst().orElseThrow(() -> new AssertionError(tree));
    assertFalse(line.contains("GPU"), line);
    assertEquals(8, tree.lines().filter(l -> l.contains(" GPU")).count(), tree);
  }

  @Test
  void sharedGroups_twoGpusShareAGroup_withTheirPortsOnly() {
    Topology t = scan(HostProfile.hgxH100SharedGroups());
    PciAddress gpu0 = PciAddress.parse("0000:1b:00.0");
    PciAddress gpu1 = PciAddress.parse("0000:1d:00.0");
    IommuGroup g = t.groupOf(gpu0).orElseThrow();
    assertEquals(List.of(PciAddress.parse("0000:1a:00.0"), PciAddress.parse("0000:1a:02.0"), gpu0,
        gpu1), g.members());
    assertEquals(List.of(PciAddress.parse("0000:1c:00.0")),
        t.groupOf(PciAddress.parse("0000:1c:00.0")).orElseThrow().members());
    assertEquals(8, t.gpus().size());
    assertEquals(6, t.gpus().stream().map(PciDevice::iommuGroup).distinct().count());
  }

  @Test
  void allocate_oneGpuOfASharedGroupByAddress_isRefusedAndSaysWhy() {
    Topology t = scan(HostProfile.hgxH100SharedGroups());
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate(t, 1, DeviceSelector.parse("0000:1b:00.0")));
    assertTrue(e.getMessage().contains("0000:1d:00.0") && e.getMessage().contains("group"),
        e.getMessage());
  }

  @Test
  void allocate_oneGpu_neverTakesHalfASharedGroup() {
    Topology t = scan(HostProfile.hgxH100SharedGroups());
    for (int n = 1; n <= 8; n++) {
      Lease lease = allocate(t, n, DeviceSelector.parse("gpu"));
      List<PciAddress> taken = addresses(lease);
      assertEquals(taken.contains(PciAddress.parse("0000:1b:00.0")),
          taken.contains(PciAddress.parse("0000:1d:00.0")), n + " GPUs: " + taken);
      assertEquals(taken.contains(PciAddress.parse("0000:9d:00.0")),
          taken.contains(PciAddress.parse("0000:9f:00.0")), n + " GPUs: " + taken);
      assertFalse(lease.devices().stream().anyMatch(d -> d.id().equals(CONNECTX7)), taken.toString());
    }
  }

  @Test
  void allocate_twoGpusOfASharedGroup_takesTheWholeGroup() {
    Topology t = scan(HostProfile.hgxH100SharedGroups());
    Lease lease = allocate(t, 2, DeviceSelector.parse("0000:1b:00.0,0000:1d:00.0"));
    List<PciAddress> gpus = lease.devices().stream().filter(d -> d.pciClass().isGpu())
        .map(LeasedDevice::address).toList();
    assertEquals(List.of(PciAddress.parse("0000:1b:00.0"), PciAddress.parse("0000:1d:00.0")),
        gpus);
    assertEquals(1, lease.groupNumbers().size(), lease.groupNumbers().toString());
  }
}
