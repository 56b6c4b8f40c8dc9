package io.gpuvirt.core.host;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
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

  // ---- bounded reads: nothing but a regular file of page size (/sys) or 1 MiB (other) ----------

  private static final String DEV = "/sys/bus/pci/devices/0000:14:02.0/";

  private Path attribute(String name) {
    return root.resolve("sys/devices/pci0000:14/0000:14:02.0").resolve(name);
  }

  private SysfsFormatException refused(String hostPath) {
    return assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
        () -> assertThrows(SysfsFormatException.class, () -> sysfs.read(hostPath)));
  }

  @Test
  void read_linkToDevZero_isRefusedAsACharacterDevice() throws Exception {
    Files.createSymbolicLink(attribute("numa_node"), Path.of("/dev/zero"));
    SysfsFormatException e = refused(DEV + "numa_node");
    assertTrue(e.path().equals(DEV + "numa_node")
        && e.getMessage().contains("a symbolic link to a character device"), e.getMessage());
  }

  @Test
  void read_fifo_isRefusedWithoutOpeningIt() throws Exception {
    Path fifo = attribute("numa_node");
    Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
    org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo is not available");
    SysfsFormatException e = refused(DEV + "numa_node");
    assertTrue(e.getMessage().contains("a FIFO"), e.getMessage());
  }

  @Test
  void read_directory_isRefusedByName() throws Exception {
    Files.createDirectories(attribute("resource"));
    SysfsFormatException e = refused(DEV + "resource");
    assertTrue(e.getMessage().contains("a directory"), e.getMessage());
  }

  @Test
  void read_danglingLink_isRefusedByName() throws Exception {
    Files.createSymbolicLink(attribute("numa_node"), Path.of("nowhere"));
    SysfsFormatException e = refused(DEV + "numa_node");
    assertTrue(e.getMessage().contains("dangling"), e.getMessage());
  }

  @Test
  void read_sysfsFileLongerThanAPage_isRefusedNamingTheBound() throws Exception {
    Files.write(attribute("resource"), new byte[4097]);
    SysfsFormatException e = refused(DEV + "resource");
    assertTrue(e.getMessage().contains("longer than 4096 bytes"), e.getMessage());
  }

  @Test
  void readBytes_configOfAFullPage_isRead() throws Exception {
    Files.write(attribute("config"), new byte[4096]);
    assertEquals(4096, sysfs.readBytes(DEV + "config").length);
  }

  @Test
  void read_linkToARegularFile_isRead() throws Exception {
    Files.writeString(root.resolve("sys/real_numa"), "1\n");
    Files.createSymbolicLink(attribute("numa_node"), root.resolve("sys/real_numa"));
    assertEquals("1\n", sysfs.read(DEV + "numa_node"));
  }

  @Test
  void read_otherHostFileOver1MiB_isRefused() throws Exception {
    Files.createDirectories(root.resolve("proc"));
    Files.write(root.resolve("proc/cmdline"), new byte[1024 * 1024 + 1]);
    assertTrue(refused("/proc/cmdline").getMessage().contains("longer than 1048576 bytes"));
  }

  @Test
  void read_otherHostFileOf1MiB_isRead() throws Exception {
    Files.createDirectories(root.resolve("proc"));
    Files.write(root.resolve("proc/cmdline"), new byte[1024 * 1024]);
    assertEquals(1024 * 1024, sysfs.readBytes("/proc/cmdline").length);
  }
}
