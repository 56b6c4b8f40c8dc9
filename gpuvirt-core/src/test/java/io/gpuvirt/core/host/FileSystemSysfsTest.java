package io.gpuvirt.core.host;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class FileSystemSysfsTest {
  @TempDir Path root;
  Sysfs sysfs;

  @BeforeEach
  void setUp() throws Exception {
    Files.createDirectories(root.resolve("sys/devices/pci0000:14/0000:14:02.0"));
    Files.createDirectories(root.resolve("sys/bus/pci/devices"));
    Files.createDirectories(root.resolve("sys/bus/pci/drivers/vfio-pci"));
    Files.writeString(root.resolve("sys/devices/pci0000:14/0000:14:02.0/vendor"), "0x8086\n");
    Files.createSymbolicLink(root.resolve("sys/bus/pci/devices/0000:14:02.0"),
        Path.of("../../../devices/pci0000:14/0000:14:02.0"));
    sysfs = Sysfs.at(root);
  }

  @Test
  void read_throughALink_givesTheFileContent() {
    assertEquals("0x8086\n", sysfs.read("/sys/bus/pci/devices/0000:14:02.0/vendor"));
  }

  @Test
  void readBytes_binaryContent_isUnchanged() throws Exception {
    byte[] config = {0, (byte) 0xff, 0x10, (byte) 0x80};
    Files.write(root.resolve("sys/devices/pci0000:14/0000:14:02.0/config"), config);
    assertArrayEquals(config, sysfs.readBytes("/sys/bus/pci/devices/0000:14:02.0/config"));
  }

  @Test
  void read_missingFile_raisesHostAccessExceptionWithThePath() {
    HostAccessException e = assertThrows(HostAccessException.class,
        () -> sysfs.read("/sys/bus/pci/devices/0000:14:02.0/numa_node"));
    assertEquals("/sys/bus/pci/devices/0000:14:02.0/numa_node", e.path());
  }

  @Test
  void read_missingFile_keepsTheIoCause() {
    HostAccessException e = assertThrows(HostAccessException.class, () -> sysfs.read("/nope"));
    assertInstanceOf(NoSuchFileException.class, e.getCause());
  }

  @Test
  void read_missingFile_saysWhatFailedAndWhere() {
    HostAccessException e = assertThrows(HostAccessException.class, () -> sysfs.read("/nope"));
    assertEquals("reading /nope failed: no such file or directory (host root " + root.toAbsolutePath()
        .normalize() + ")", e.getMessage());
  }

  @Test
  void read_pathWithDotDot_isRefusedBeforeTouchingFiles() {
    assertThrows(IllegalHostPathException.class, () -> sysfs.read("/sys/../../etc/passwd"));
  }

  @Test
  void write_existingFile_replacesItsContent() throws Exception {
    Path bind = root.resolve("sys/bus/pci/drivers/vfio-pci/bind");
    Files.writeString(bind, "old content that is longer");
    sysfs.write("/sys/bus/pci/drivers/vfio-pci/bind", "0000:17:00.0");
    assertEquals("0000:17:00.0", Files.readString(bind));
  }

  @Test
  void write_missingFile_isAnErrorNamingThePath() {
    HostAccessException e = assertThrows(HostAccessException.class,
        () -> sysfs.write("/sys/bus/pci/drivers/nvidia/unbind", "0000:17:00.0"));
    assertEquals("/sys/bus/pci/drivers/nvidia/unbind", e.path());
  }

  @Test
  void write_missingFileInExistingDirectory_doesNotCreateIt() {
    assertThrows(HostAccessException.class,
        () -> sysfs.write("/sys/bus/pci/drivers/vfio-pci/new_id", "10de 2901"));
    assertFalse(Files.exists(root.resolve("sys/bus/pci/drivers/vfio-pci/new_id")));
  }

  @Test
  void list_directory_givesSortedNames() throws Exception {
    Files.createDirectories(root.resolve("sys/bus/pci/drivers/nvidia"));
    Files.createDirectories(root.resolve("sys/bus/pci/drivers/ahci"));
    assertEquals(List.of("ahci", "nvidia", "vfio-pci"), sysfs.list("/sys/bus/pci/drivers"));
  }

  @Test
  void list_missingDirectory_namesIt() {
    assertEquals("/sys/kernel/iommu_groups", assertThrows(HostAccessException.class,
        () -> sysfs.list("/sys/kernel/iommu_groups")).path());
  }

  @Test
  void readLink_link_givesTheTargetAsWritten() {
    assertEquals(Optional.of("../../../devices/pci0000:14/0000:14:02.0"),
        sysfs.readLink("/sys/bus/pci/devices/0000:14:02.0"));
  }

  @Test
  void readLink_regularFileOrMissingPath_isEmpty() {
    assertEquals(List.of(Optional.empty(), Optional.empty()),
        List.of(sysfs.readLink("/sys/devices/pci0000:14/0000:14:02.0/vendor"),
            sysfs.readLink("/sys/bus/pci/devices/0000:14:02.0/driver")));
  }

  @Test
  void canonicalPath_link_resolvesRelativeToTheRoot() {
    assertEquals("/sys/devices/pci0000:14/0000:14:02.0",
        sysfs.canonicalPath("/sys/bus/pci/devices/0000:14:02.0"));
  }

  @Test
  void canonicalPath_linkEscapingTheRoot_isRefused(@TempDir Path outside) throws Exception {
    Files.createSymbolicLink(root.resolve("sys/bus/pci/devices/0000:99:00.0"), outside);
    HostAccessException e = assertThrows(HostAccessException.class,
        () -> sysfs.canonicalPath("/sys/bus/pci/devices/0000:99:00.0"));
    assertTrue(e.getMessage().contains("outside the host root"), e.getMessage());
  }

  @Test
  void canonicalPath_brokenLink_namesThePath() throws Exception {
    Files.createSymbolicLink(root.resolve("sys/bus/pci/devices/0000:99:00.0"),
        Path.of("../../../devices/gone"));
    assertEquals("/sys/bus/pci/devices/0000:99:00.0", assertThrows(HostAccessException.class,
        () -> sysfs.canonicalPath("/sys/bus/pci/devices/0000:99:00.0")).path());
  }

  @Test
  void existsAndIsDirectory_followLinks() {
    assertEquals(List.of(true, true, false, false),
        List.of(sysfs.exists("/sys/bus/pci/devices/0000:14:02.0"),
            sysfs.isDirectory("/sys/bus/pci/devices/0000:14:02.0"),
            sysfs.isDirectory("/sys/bus/pci/devices/0000:14:02.0/vendor"),
            sysfs.exists("/sys/bus/pci/devices/0000:14:02.0/driver")));
  }

  @Test
  void root_isTheAbsoluteNormalizedDirectory() {
    assertEquals(root.toAbsolutePath().normalize(), sysfs.root());
  }

  @Test
  void at_rootThatIsNotADirectory_isRefused() throws Exception {
    Path file = Files.writeString(root.resolve("plain-file"), "x");
    assertThrows(HostAccessException.class, () -> Sysfs.at(file));
  }
}
