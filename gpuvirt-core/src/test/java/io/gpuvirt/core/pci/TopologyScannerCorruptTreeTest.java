package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.host.SysfsFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** A tree whose files are not what the kernel writes: a SysfsFormatException naming the file. */
final class TopologyScannerCorruptTreeTest {
  private static final String RESOURCE_ZERO =
      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n";

  @TempDir Path root;
  SysfsTree tree;
  SysfsTree.Dev dev;

  @BeforeEach
  void setUp() {
    tree = new SysfsTree(root);
    dev = tree.add("0000:00:02.0");
  }

  private SysfsFormatException scanFails() {
    return assertThrows(SysfsFormatException.class, () -> TopologyScanner.scan(Sysfs.at(root)));
  }

  static Stream<Arguments> corruptAttributes() {
    return Stream.of(
        Arguments.of("vendor", "10de\n"),
        Arguments.of("vendor", "0xzzzz\n"),
        Arguments.of("vendor", "0x10de0\n"),
        Arguments.of("vendor", ""),
        Arguments.of("vendor", " 0x10de\n"),
        Arguments.of("vendor", "0x10de\n\n"),
        Arguments.of("vendor", "0x\n"),
        Arguments.of("vendor", "0x10\n"),
        Arguments.of("vendor", "0x10DE\n"),
        Arguments.of("vendor", "0x10de"),
        Arguments.of("device", "0x29\n"),
        Arguments.of("class", "0x0302\n"),
        Arguments.of("class", "0x30200\n"),
        Arguments.of("revision", "0x1\n"),
        Arguments.of("subsystem_vendor", "0x+10d\n"),
        Arguments.of("device", "0x\u0661\u0662\u0663\u0664\n"),
        Arguments.of("device", "0x-123\n"),
        Arguments.of("subsystem_vendor", "0x10DE0\n"),
        Arguments.of("subsystem_device", "garbage\n"),
        Arguments.of("class", "0x03020000\n"),
        Arguments.of("class", "030200\n"),
        Arguments.of("revision", "0x1ff\n"),
        Arguments.of("numa_node", "abc\n"),
        Arguments.of("numa_node", "-2\n"),
        Arguments.of("numa_node", "99999999999\n"),
        Arguments.of("numa_node", "\u0661\n"),
        Arguments.of("numa_node", "0x1\n"),
        Arguments.of("numa_node", "1.5\n"),
        Arguments.of("resource", RESOURCE_ZERO.repeat(5)),
        Arguments.of("resource", RESOURCE_ZERO.repeat(18)),
        Arguments.of("resource", ""),
        Arguments.of("resource", "0x0 0x0\n" + RESOURCE_ZERO.repeat(12)),
        Arguments.of("resource", "0x0  0x0 0x0\n" + RESOURCE_ZERO.repeat(12)),
        Arguments.of("resource", "0x1000 0x0fff 0x200 0x0\n" + RESOURCE_ZERO.repeat(12)),
        Arguments.of("resource", "0x2000 0x1fff 0x40200\n" + RESOURCE_ZERO.repeat(12)),
        Arguments.of("resource", "0x0 0xffffffffffffffff 0x40200\n" + RESOURCE_ZERO.repeat(12)),
        Arguments.of("resource", "0xg000 0xffff 0x40200\n" + RESOURCE_ZERO.repeat(12)),
        Arguments.of("resource", RESOURCE_ZERO.repeat(12) + "0x1 0x2 zz\n"),
        Arguments.of("sriov_totalvfs", "many\n"),
        Arguments.of("secondary_bus_number", "0x15\n"),
        Arguments.of("secondary_bus_number", "256\n"));
  }

  @ParameterizedTest(name = "{0} = \"{1}\"")
  @MethodSource("corruptAttributes")
  void scan_corruptAttribute_namesTheFile(String attribute, String content) {
    prepare(attribute);
    dev.write(attribute, content);
    assertEquals(dev.hostPath(attribute), scanFails().path());
  }

  @ParameterizedTest(name = "{0} = \"{1}\"")
  @MethodSource("corruptAttributes")
  void scan_corruptAttribute_saysWhatWasExpected(String attribute, String content) {
    prepare(attribute);
    dev.write(attribute, content);
    assertTrue(scanFails().getMessage().contains("expected "));
  }

  private void prepare(String attribute) {
    if (attribute.equals("sriov_totalvfs")) {
      dev.sriov(4);
    } else if (attribute.equals("secondary_bus_number")) {
      dev.bridge(1, 1, PciePortType.ROOT_PORT);
    }
  }

  /** A driver entry the kernel would never make, as raw link targets relative to the device. */
  static Stream<Arguments> badDriverLinks() {
    return Stream.of(
        Arguments.of("dangling", "../../../bus/pci/drivers/bogus"),
        Arguments.of("loop", "driver"),
        Arguments.of("to an attribute", "vendor"),
        Arguments.of("to a directory elsewhere", "../../../devices"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badDriverLinks")
  void scan_driverLinkNotToALoadedDriver_isRefusedNamingTheLink(String why, String target)
      throws Exception {
    Files.createSymbolicLink(dev.dir.resolve("driver"), Path.of(target));
    SysfsFormatException e = scanFails();
    assertTrue(e.path().equals(dev.hostPath("driver"))
        && e.getMessage().contains("/sys/bus/pci/drivers/NAME"), e.getMessage());
  }

  @Test
  void scan_regularFileNamedDriver_isRefusedNamingIt() {
    dev.write("driver", "nvidia\n");
    assertEquals(dev.hostPath("driver"), scanFails().path());
  }

  @Test
  void scan_driverLinkToALoadedDriver_namesTheDriver() {
    dev.driver("nvidia");
    assertEquals(java.util.Optional.of("nvidia"),
        TopologyScanner.scan(Sysfs.at(root)).require(dev.address).driver());
  }

  @Test
  void scan_corruptVendor_quotesTheContent() {
    dev.write("vendor", "0xZZ\n");
    assertTrue(scanFails().getMessage().contains("found '0xZZ\\n'"));
  }

  @Test
  void scan_subordinateBelowSecondary_isRefused() {
    dev.bridge(5, 5, PciePortType.ROOT_PORT).write("subordinate_bus_number", "4\n");
    assertEquals(dev.hostPath("subordinate_bus_number"), scanFails().path());
  }

  @Test
  void scan_moreVfsThanTotal_isRefused() {
    dev.sriov(1).write("sriov_numvfs", "2\n");
    assertEquals(dev.hostPath("sriov_numvfs"), scanFails().path());
  }

  @Test
  void scan_configShorterThanHeader_isRefused() {
    dev.writeBytes("config", new byte[63]);
    SysfsFormatException e = scanFails();
    assertTrue(e.getMessage().contains("63 bytes"), e.getMessage());
  }

  @Test
  void scan_capabilityListLoop_isRefused() {
    byte[] config = new byte[256];
    config[0x06] = 0x10;
    config[0x34] = 0x40;
    config[0x40] = 0x01;
    config[0x41] = 0x48;
    config[0x48] = 0x05;
    config[0x49] = 0x40;
    dev.writeBytes("config", config);
    SysfsFormatException e = scanFails();
    assertTrue(e.getMessage().contains("returns to 0x40"), e.getMessage());
  }

  @Test
  void scan_capabilityPointerPastTheEnd_isRefused() {
    byte[] config = new byte[128];
    config[0x06] = 0x10;
    config[0x34] = (byte) 0xf0;
    dev.writeBytes("config", config);
    assertEquals(dev.hostPath("config"), scanFails().path());
  }

  @Test
  void scan_iommuGroupLinkToNonNumber_isRefused() throws Exception {
    Path groupDir = root.resolve("sys/kernel/iommu_groups/abc");
    Files.createDirectories(groupDir);
    tree.link(dev.dir.resolve("iommu_group"), groupDir);
    assertEquals(dev.hostPath("iommu_group"), scanFails().path());
  }

  @Test
  void scan_iommuGroupDirectoryNotANumber_isRefused() throws Exception {
    Files.createDirectories(root.resolve("sys/kernel/iommu_groups/x1/devices"));
    SysfsFormatException e = scanFails();
    assertTrue(e.getMessage().contains("'x1'"), e.getMessage());
  }

  @Test
  void scan_iommuGroupMemberNotAnAddressAndNoDeviceLink_isRefused() throws Exception {
    dev.iommuGroup(4);
    Files.createDirectories(root.resolve("sys/kernel/iommu_groups/4/devices/platform-thing"));
    SysfsFormatException e = scanFails();
    assertEquals("/sys/kernel/iommu_groups/4/devices/platform-thing", e.path());
  }

  @Test
  void scan_iommuGroupMemberNamedLikeAnAddressButMalformed_isRefused() throws Exception {
    dev.iommuGroup(4);
    Files.createDirectories(root.resolve("sys/kernel/iommu_groups/4/devices/0000:17:00.0X"));
    SysfsFormatException e = scanFails();
    assertEquals("/sys/kernel/iommu_groups/4/devices", e.path());
  }

  @Test
  void scan_groupListingAnUnknownDevice_isRefused() throws Exception {
    dev.iommuGroup(4);
    Files.createDirectories(root.resolve("sys/kernel/iommu_groups/4/devices/0000:00:09.0"));
    SysfsFormatException e = scanFails();
    assertTrue(e.getMessage().contains("0000:00:09.0"), e.getMessage());
  }

  @Test
  void scan_deviceLinkToAGroupThatDoesNotListIt_isRefused() throws Exception {
    dev.iommuGroup(4);
    Files.delete(root.resolve("sys/kernel/iommu_groups/4/devices/0000:00:02.0"));
    SysfsFormatException e = scanFails();
    assertTrue(e.getMessage().contains("group 4 to list 0000:00:02.0"), e.getMessage());
  }

  @Test
  void scan_groupListingADeviceThatLinksElsewhere_isRefused() {
    dev.iommuGroup(4);
    tree.link(root.resolve("sys/kernel/iommu_groups/5/devices/0000:00:02.0"), dev.dir);
    assertEquals(dev.hostPath("iommu_group"), scanFails().path());
  }

  @Test
  void scan_physfnLinkToNonAddress_isRefused() throws Exception {
    Files.createDirectories(root.resolve("sys/devices/elsewhere"));
    tree.link(dev.dir.resolve("physfn"), root.resolve("sys/devices/elsewhere"));
    assertEquals(dev.hostPath("physfn"), scanFails().path());
  }

  @Test
  void scan_physfnToUnlistedDevice_isRefused() throws Exception {
    Path ghost = root.resolve("sys/devices/pci0000:00/0000:00:07.0");
    Files.createDirectories(ghost);
    tree.link(dev.dir.resolve("physfn"), ghost);
    SysfsFormatException e = scanFails();
    assertTrue(e.getMessage().contains("its PF to be listed"), e.getMessage());
  }

  @Test
  void scan_parentBridgeNotListed_isRefused() throws Exception {
    Path hidden = root.resolve("sys/devices/pci0000:00/0000:00:1c.0");
    tree.addAt("0000:01:00.0", root.relativize(hidden).toString());
    SysfsFormatException e = scanFails();
    assertTrue(e.getMessage().contains("its parent to be listed"), e.getMessage());
  }

  @Test
  void scan_entryLinkingToADifferentlyNamedDirectory_isRefused() throws Exception {
    Path other = root.resolve("sys/devices/pci0000:00/0000:00:03.0");
    Files.createDirectories(other);
    Path link = root.resolve("sys/bus/pci/devices/0000:00:04.0");
    tree.link(link, other);
    assertEquals("/sys/bus/pci/devices/0000:00:04.0", scanFails().path());
  }
}
