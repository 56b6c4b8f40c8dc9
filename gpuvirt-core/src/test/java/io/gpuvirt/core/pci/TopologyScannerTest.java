package io.gpuvirt.core.pci;

import static io.gpuvirt.core.pci.Hosts.G;
import static io.gpuvirt.core.pci.Hosts.M;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.host.SysfsFormatException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TopologyScannerTest {
  @TempDir Path root;
  SysfsTree tree;

  @BeforeEach
  void setUp() {
    tree = new SysfsTree(root);
  }

  private Topology scanHgx() {
    Hosts.hgxSlice(tree);
    return scan();
  }

  private Topology scan() {
    return TopologyScanner.scan(Sysfs.at(root));
  }

  private static PciAddress a(String bdf) {
    return PciAddress.parse(bdf);
  }

  @Test
  void scan_hgxSlice_listsEveryDevice() {
    assertEquals(List.of("0000:00:00.0", "0000:00:01.0", "0000:01:00.0", "0000:01:00.1",
        "0000:14:02.0", "0000:15:00.0", "0000:16:00.0", "0000:16:01.0", "0000:16:02.0",
        "0000:16:03.0", "0000:17:00.0", "0000:18:00.0", "0000:18:00.2", "0000:18:00.3",
        "0000:19:00.0"),
        scanHgx().devices().stream().map(d -> d.address().toString()).toList());
  }

  @Test
  void scan_gpu_readsEveryFieldAsTheKernelWritesIt() {
    PciDevice gpu = scanHgx().require(a("0000:17:00.0"));
    PciDevice expected = PciDevice.builder(a("0000:17:00.0"))
        .id(new PciId(0x10de, 0x2901)).subsystem(new PciId(0x10de, 0x1999))
        .pciClass(new PciClass(0x030200)).revision(0xa1).driver("nvidia").driverOverride("nvidia")
        .iommuGroup(17).numaNode(0)
        .addBar(new Bar(0, 0x228000000000L, 64 * M, true, true, false))
        .addBar(new Bar(2, 0x220000000000L, 256 * G, true, true, false))
        .addBar(new Bar(4, 0x228044000000L, 32 * M, true, true, false))
        .parent(a("0000:16:00.0")).rootBus("0000:14").portType(PciePortType.ENDPOINT)
        .resettable(true).label("#GPU0").build();
    assertEquals(expected, gpu);
  }

  @Test
  void scan_bridges_readBusRangesAndPortTypesAtEveryLevel() {
    Topology t = scanHgx();
    assertEquals(List.of(
        Optional.of(new BusRange(0x15, 0x1a)), Optional.of(PciePortType.ROOT_PORT),
        Optional.of(new BusRange(0x16, 0x1a)), Optional.of(PciePortType.SWITCH_UPSTREAM),
        Optional.of(new BusRange(0x17, 0x17)), Optional.of(PciePortType.SWITCH_DOWNSTREAM)),
        List.of(t.require(a("0000:14:02.0")).busRange(), t.require(a("0000:14:02.0")).portType(),
            t.require(a("0000:15:00.0")).busRange(), t.require(a("0000:15:00.0")).portType(),
            t.require(a("0000:16:00.0")).busRange(), t.require(a("0000:16:00.0")).portType()));
  }

  @Test
  void scan_nestedDirectories_giveParentsAndRootBus() {
    Topology t = scanHgx();
    assertEquals(List.of("0000:16:00.0", "0000:15:00.0", "0000:14:02.0"),
        t.upstreamChain(a("0000:17:00.0")).stream().map(d -> d.address().toString()).toList());
  }

  @Test
  void scan_rootBusDevice_hasNoParentAndItsRootBus() {
    PciDevice rp = scanHgx().require(a("0000:14:02.0"));
    assertEquals(List.of(Optional.empty(), "0000:14"), List.of(rp.parent(), rp.rootBus()));
  }

  @Test
  void scan_deviceBehindBridges_keepsTheRootBusOfItsTree() {
    assertEquals("0000:14", scanHgx().require(a("0000:19:00.0")).rootBus());
  }

  @Test
  void scan_physicalFunction_listsItsVirtualFunctionsInIndexOrder() {
    assertEquals(Optional.of(new Sriov(8, 2, List.of(a("0000:18:00.2"), a("0000:18:00.3")))),
        scanHgx().require(a("0000:18:00.0")).sriov());
  }

  @Test
  void scan_virtualFunction_pointsToItsPhysicalFunction() {
    PciDevice vf = scanHgx().require(a("0000:18:00.3"));
    assertEquals(List.of(Optional.of(a("0000:18:00.0")), Optional.empty()),
        List.of(vf.physicalFunction(), vf.sriov()));
  }

  @Test
  void scan_tenOrMoreVfs_sortsVirtfnLinksNumerically() {
    SysfsTree.Dev pf = tree.add("0000:41:00.0").id(0x10de, 0x2236).pciClass(0x030200);
    SysfsTree.Dev[] vfs = new SysfsTree.Dev[11];
    for (int i = 0; i < vfs.length; i++) {
      vfs[i] = tree.add(String.format("0000:41:%02x.%d", (i + 4) / 8, (i + 4) % 8))
          .id(0x10de, 0x2236).pciClass(0x030200);
    }
    pf.sriov(16, vfs);
    List<PciAddress> expected = java.util.Arrays.stream(vfs).map(v -> v.address).toList();
    assertEquals(expected, scan().require(a("0000:41:00.0")).sriov().get().virtualFunctions());
  }

  @Test
  void scan_ioBar_isIoAndNeither64BitNorPrefetchable() {
    assertEquals(new Bar(5, 0xe000, 128, false, false, true),
        scanHgx().require(a("0000:01:00.0")).bars().get(2));
  }

  @Test
  void scan_32BitBar_isNeither64BitNorPrefetchable() {
    assertEquals(new Bar(0, 0xfb000000L, 16 * M, false, false, false),
        scanHgx().require(a("0000:01:00.0")).bars().get(0));
  }

  @Test
  void scan_iommuGroups_listTheirMembers() {
    assertEquals(new IommuGroup(3, List.of(a("0000:00:01.0"), a("0000:01:00.0"),
        a("0000:01:00.1"))), scanHgx().iommuGroup(3).orElseThrow());
  }

  @Test
  void scan_source_namesTheHostRoot() {
    assertEquals("host root " + root.toAbsolutePath().normalize(), scanHgx().source());
  }

  @Test
  void scan_unboundDevice_hasNoDriver() {
    assertEquals(Optional.empty(), scanHgx().require(a("0000:18:00.2")).driver());
  }

  // Missing optional files: the documented defaults.

  @Test
  void scan_missingSubsystemFiles_readAsZero() {
    Hosts.b200(tree.add("0000:17:00.0"), 17, 0).delete("subsystem_vendor")
        .delete("subsystem_device");
    assertEquals(new PciId(0, 0), scan().require(a("0000:17:00.0")).subsystem());
  }

  @Test
  void scan_missingRevision_readsAsZero() {
    Hosts.b200(tree.add("0000:17:00.0"), 17, 0).delete("revision");
    assertEquals(0, scan().require(a("0000:17:00.0")).revision());
  }

  @Test
  void scan_missingNumaNode_readsAsMinusOne() {
    tree.add("0000:00:02.0").delete("numa_node");
    assertEquals(-1, scan().require(a("0000:00:02.0")).numaNode());
  }

  @Test
  void scan_missingDriverOverride_readsAsNone() {
    tree.add("0000:00:02.0").delete("driver_override");
    assertEquals(Optional.empty(), scan().require(a("0000:00:02.0")).driverOverride());
  }

  @Test
  void scan_nullOrEmptyDriverOverride_readsAsNone() {
    tree.add("0000:00:02.0").write("driver_override", "(null)\n");
    tree.add("0000:00:03.0").write("driver_override", "\n");
    Topology t = scan();
    assertEquals(List.of(Optional.empty(), Optional.empty()),
        List.of(t.require(a("0000:00:02.0")).driverOverride(),
            t.require(a("0000:00:03.0")).driverOverride()));
  }

  @Test
  void scan_missingConfig_leavesPortTypeUnknown() {
    tree.add("0000:00:02.0").pcie(PciePortType.ENDPOINT).delete("config");
    assertEquals(Optional.empty(), scan().require(a("0000:00:02.0")).portType());
  }

  @Test
  void scan_configHeaderOnly_leavesPortTypeUnknown() {
    SysfsTree.Dev d = tree.add("0000:00:02.0").pcie(PciePortType.ENDPOINT);
    byte[] header = java.util.Arrays.copyOf(readConfig(d), 64);
    d.writeBytes("config", header);
    assertEquals(Optional.empty(), scan().require(a("0000:00:02.0")).portType());
  }

  @Test
  void scan_noLinksLabelOrReset_readsAsAbsent() {
    tree.add("0000:00:02.0");
    PciDevice d = scan().require(a("0000:00:02.0"));
    assertEquals(List.of(Optional.empty(), OptionalInt.empty(), Optional.empty(), false,
        Optional.empty(), Optional.empty(), Optional.empty()),
        List.of(d.driver(), d.iommuGroup(), d.label(), d.resettable(), d.busRange(), d.sriov(),
            d.physicalFunction()));
  }

  @Test
  void scan_noIommuGroupsDirectory_meansIommuOff() throws Exception {
    tree.add("0000:00:02.0");
    java.nio.file.Files.delete(root.resolve("sys/kernel/iommu_groups"));
    assertEquals(false, scan().iommuEnabled());
  }

  // Refusals.

  @Test
  void scan_rootWithoutSysfs_saysItIsNotASysfsTree(@TempDir Path empty) {
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> TopologyScanner.scan(Sysfs.at(empty)));
    assertTrue(e.getMessage().contains("is not a sysfs tree: /sys/bus/pci/devices is missing"),
        e.getMessage());
  }

  @Test
  void scan_entryThatIsNotAnAddress_namesTheEntry() throws Exception {
    tree.add("0000:00:02.0");
    java.nio.file.Files.createDirectory(root.resolve("sys/bus/pci/devices/not-a-bdf"));
    SysfsFormatException e = assertThrows(SysfsFormatException.class, this::scan);
    assertTrue(e.getMessage().contains("'not-a-bdf'"), e.getMessage());
  }

  @Test
  void scan_entryInUpperCase_isRefusedAsNotCanonical() throws Exception {
    java.nio.file.Files.createDirectory(root.resolve("sys/bus/pci/devices/0000:1A:00.0"));
    SysfsFormatException e = assertThrows(SysfsFormatException.class, this::scan);
    assertTrue(e.getMessage().contains("canonical form 0000:1a:00.0"), e.getMessage());
  }

  @Test
  void scan_missingVendor_namesTheFile() {
    tree.add("0000:00:02.0").delete("vendor");
    HostAccessException e = assertThrows(HostAccessException.class, this::scan);
    assertEquals("/sys/bus/pci/devices/0000:00:02.0/vendor", e.path());
  }

  @Test
  void scan_missingResource_namesTheFile() {
    tree.add("0000:00:02.0").delete("resource");
    HostAccessException e = assertThrows(HostAccessException.class, this::scan);
    assertEquals("/sys/bus/pci/devices/0000:00:02.0/resource", e.path());
  }

  @Test
  void scan_onlyOneBusNumberFile_namesTheMissingOne() {
    tree.add("0000:00:02.0").write("secondary_bus_number", "1\n");
    HostAccessException e = assertThrows(HostAccessException.class, this::scan);
    assertEquals("/sys/bus/pci/devices/0000:00:02.0/subordinate_bus_number", e.path());
  }

  @Test
  void scan_deviceOutsideARootBus_isRefused() {
    tree.addAt("0000:00:02.0", "sys/devices/platform/x");
    SysfsFormatException e = assertThrows(SysfsFormatException.class, this::scan);
    assertTrue(e.getMessage().contains("/sys/devices/platform/x/0000:00:02.0"), e.getMessage());
  }

  private static byte[] readConfig(SysfsTree.Dev d) {
    try {
      return java.nio.file.Files.readAllBytes(d.dir.resolve("config"));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
