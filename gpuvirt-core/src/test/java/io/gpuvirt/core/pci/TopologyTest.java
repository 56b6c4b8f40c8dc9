package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.host.Sysfs;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TopologyTest {
  @TempDir Path root;

  private Topology hgx() {
    Hosts.hgxSlice(new SysfsTree(root));
    return TopologyScanner.scan(Sysfs.at(root));
  }

  private static PciAddress a(String bdf) {
    return PciAddress.parse(bdf);
  }

  private static Optional<PciAddress> address(Optional<PciDevice> d) {
    return d.map(PciDevice::address);
  }

  @Test
  void commonSwitch_twoGpusBehindOneSwitch_isTheUpstreamPort() {
    assertEquals(Optional.of(a("0000:15:00.0")),
        address(hgx().commonSwitch(a("0000:17:00.0"), a("0000:19:00.0"))));
  }

  @Test
  void commonSwitch_functionsBehindOneDownstreamPort_isThatPort() {
    assertEquals(Optional.of(a("0000:16:01.0")),
        address(hgx().commonSwitch(a("0000:18:00.2"), a("0000:18:00.3"))));
  }

  @Test
  void commonSwitch_functionsUnderOnlyARootPort_isEmpty() {
    assertEquals(Optional.empty(), hgx().commonSwitch(a("0000:01:00.0"), a("0000:01:00.1")));
  }

  @Test
  void commonSwitch_devicesOnDifferentRootBuses_isEmpty() {
    assertEquals(Optional.empty(), hgx().commonSwitch(a("0000:17:00.0"), a("0000:01:00.0")));
  }

  @Test
  void commonSwitch_deviceAndItsOwnPort_isThePortAboveBoth() {
    assertEquals(Optional.of(a("0000:15:00.0")),
        address(hgx().commonSwitch(a("0000:17:00.0"), a("0000:16:00.0"))));
  }

  @Test
  void commonSwitch_withoutPortTypes_isTheNearestBridgeNotOnARootBus() {
    PciDevice rootPort = bridge("0000:00:01.0", null);
    PciDevice switchPort = bridge("0000:01:00.0", rootPort);
    Topology t = new Topology("memory", List.of(rootPort, switchPort,
        leaf("0000:02:00.0", switchPort), leaf("0000:02:00.1", switchPort)), List.of());
    assertEquals(Optional.of(switchPort), t.commonSwitch(a("0000:02:00.0"), a("0000:02:00.1")));
  }

  @Test
  void commonSwitch_withoutPortTypesUnderARootBusBridge_isEmpty() {
    PciDevice rootPort = bridge("0000:00:01.0", null);
    Topology t = new Topology("memory", List.of(rootPort, leaf("0000:01:00.0", rootPort),
        leaf("0000:01:00.1", rootPort)), List.of());
    assertEquals(Optional.empty(), t.commonSwitch(a("0000:01:00.0"), a("0000:01:00.1")));
  }

  @Test
  void commonSwitch_unknownDevice_isRefused() {
    Topology t = hgx();
    assertThrows(UnknownDeviceException.class,
        () -> t.commonSwitch(a("0000:17:00.0"), a("0000:99:00.0")));
  }

  @Test
  void nearestCommonBridge_functionsUnderARootPort_isTheRootPort() {
    assertEquals(Optional.of(a("0000:00:01.0")),
        address(hgx().nearestCommonBridge(a("0000:01:00.0"), a("0000:01:00.1"))));
  }

  @Test
  void nearestCommonBridge_twoGpusBehindOneSwitch_isTheUpstreamPort() {
    assertEquals(Optional.of(a("0000:15:00.0")),
        address(hgx().nearestCommonBridge(a("0000:17:00.0"), a("0000:19:00.0"))));
  }

  @Test
  void nearestCommonBridge_devicesOnDifferentRootBuses_isEmpty() {
    assertEquals(Optional.empty(), hgx().nearestCommonBridge(a("0000:17:00.0"),
        a("0000:01:00.0")));
  }

  @Test
  void nearestCommonBridge_twoRootBusDevices_isEmpty() {
    assertEquals(Optional.empty(), hgx().nearestCommonBridge(a("0000:00:00.0"),
        a("0000:00:01.0")));
  }

  @Test
  void summary_hostWithGroups_countsDevicesGpusAndGroups() {
    assertEquals("15 PCI devices, 3 GPUs, 0 NVSwitches; IOMMU on: 13 groups", hgx().summary());
  }

  @Test
  void summary_hostWithoutGroups_saysTheIommuIsOff() {
    Topology t = new Topology("memory", List.of(leaf("0000:00:02.0", null)), List.of());
    assertEquals("1 PCI device, 0 GPUs, 0 NVSwitches; IOMMU off: /sys/kernel/iommu_groups is"
        + " empty (turn on VT-d or AMD-Vi in the firmware and boot with intel_iommu=on or"
        + " amd_iommu=on)", t.summary());
  }

  @Test
  void summary_oneOfEach_usesTheSingular() {
    PciDevice gpu = PciDevice.builder(a("0000:17:00.0")).id(new PciId(0x10de, 0x2901))
        .pciClass(new PciClass(0x030200)).iommuGroup(1).build();
    PciDevice sw = PciDevice.builder(a("0000:05:00.0")).id(new PciId(0x10de, 0x22a3))
        .pciClass(new PciClass(0x068000)).iommuGroup(1).build();
    Topology t = new Topology("memory", List.of(gpu, sw),
        List.of(new IommuGroup(1, List.of(gpu.address(), sw.address()))));
    assertEquals("2 PCI devices, 1 GPU, 1 NVSwitch; IOMMU on: 1 group", t.summary());
  }

  private static PciDevice bridge(String bdf, PciDevice parent) {
    PciAddress address = a(bdf);
    return PciDevice.builder(address).pciClass(new PciClass(0x060400)).rootBus("0000:00")
        .parent(parent == null ? null : parent.address())
        .busRange(new BusRange(address.bus() + 1, address.bus() + 1)).build();
  }

  private static PciDevice leaf(String bdf, PciDevice parent) {
    return PciDevice.builder(a(bdf)).rootBus("0000:00")
        .parent(parent == null ? null : parent.address()).build();
  }
}
