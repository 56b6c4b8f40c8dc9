package io.gpuvirt.core.host;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Sysfs#readIfExists} and the {@link Sysfs#directory} view give what exists-then-read and
 * the path-based reads give: the same content, the same refusals, naming the same host path.
 */
final class SysfsDirectoryTest {
  private static final String DEV = "/sys/bus/pci/devices/0000:14:02.0";

  @TempDir Path root;
  Sysfs sysfs;
  Path dir;

  @BeforeEach
  void setUp() throws Exception {
    dir = Files.createDirectories(root.resolve("sys/devices/pci0000:14/0000:14:02.0"));
    Files.createDirectories(root.resolve("sys/bus/pci/devices"));
    Files.writeString(dir.resolve("vendor"), "0x8086\n");
    Files.createSymbolicLink(root.resolve("sys/bus/pci/devices/0000:14:02.0"),
        Path.of("../../../devices/pci0000:14/0000:14:02.0"));
    sysfs = Sysfs.at(root);
  }

  private void fifo(String name) throws Exception {
    Process p = new ProcessBuilder("mkfifo", dir.resolve(name).toString()).start();
    Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo is not available");
  }

  @Test
  void directoryRead_givesTheFileContent() {
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      assertEquals(sysfs.read(DEV + "/vendor"), d.read("vendor"));
    }
  }

  @Test
  void directoryList_equalsList() throws Exception {
    Files.writeString(dir.resolve("device"), "0x1234\n");
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      assertEquals(sysfs.list(DEV), d.list());
    }
  }

  @Test
  void directoryList_ofAMissingDirectory_raisesWhatListRaises() {
    String missing = "/sys/bus/pci/devices/0000:99:00.0";
    try (Sysfs.Directory d = sysfs.directory(missing)) {
      assertEquals(assertThrows(HostAccessException.class, () -> sysfs.list(missing))
          .getMessage(), assertThrows(HostAccessException.class, d::list).getMessage());
    }
  }

  @Test
  void directoryRead_missingFile_namesTheHostPathAndKeepsTheCause() {
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      HostAccessException e = assertThrows(HostAccessException.class, () -> d.read("numa_node"));
      assertEquals(List.of(DEV + "/numa_node", NoSuchFileException.class),
          List.of(e.path(), e.getCause().getClass()));
    }
  }

  @Test
  void directoryRead_fifo_isRefusedWithoutOpeningIt() throws Exception {
    fifo("numa_node");
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      SysfsFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
          () -> assertThrows(SysfsFormatException.class, () -> d.read("numa_node")));
      assertTrue(e.path().equals(DEV + "/numa_node") && e.getMessage().contains("a FIFO"),
          e.getMessage());
    }
  }

  @Test
  void directoryReadIfExists_fifo_isRefusedWithoutOpeningIt() throws Exception {
    fifo("label");
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      assertTimeoutPreemptively(Duration.ofSeconds(10),
          () -> assertThrows(SysfsFormatException.class, () -> d.readIfExists("label")));
    }
  }

  @Test
  void readIfExists_fifo_isRefusedWithoutOpeningIt() throws Exception {
    fifo("label");
    assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(SysfsFormatException.class, () -> sysfs.readIfExists(DEV + "/label")));
  }

  @Test
  void directoryRead_fileLongerThanAPage_isRefusedNamingTheBound() throws Exception {
    Files.write(dir.resolve("resource"), new byte[4097]);
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      assertTrue(assertThrows(SysfsFormatException.class, () -> d.read("resource")).getMessage()
          .contains("longer than 4096 bytes"));
    }
  }

  @Test
  void directoryReadBytesIfExists_fullPage_isRead() throws Exception {
    byte[] config = new byte[4096];
    config[4095] = 7;
    Files.write(dir.resolve("config"), config);
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      assertArrayEquals(config, d.readBytesIfExists("config").orElseThrow());
    }
  }

  @Test
  void readIfExists_missingFileOrDanglingLink_isEmptyAsExistsSays() throws Exception {
    Files.createSymbolicLink(dir.resolve("label"), Path.of("nowhere"));
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      assertEquals(List.of(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty()),
          List.of(sysfs.readIfExists(DEV + "/numa_node"), sysfs.readIfExists(DEV + "/label"),
              d.readIfExists("numa_node"), d.readIfExists("label")));
    }
  }

  @Test
  void readIfExists_linkToARegularFile_isRead() throws Exception {
    Files.writeString(root.resolve("sys/real_label"), "GPU0\n");
    Files.createSymbolicLink(dir.resolve("label"), root.resolve("sys/real_label"));
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      assertEquals(List.of(Optional.of("GPU0\n"), Optional.of("GPU0\n")),
          List.of(sysfs.readIfExists(DEV + "/label"), d.readIfExists("label")));
    }
  }

  @Test
  void directoryRead_nameThatIsNoPlainName_isRefusedAsJoinRefusesIt() {
    try (Sysfs.Directory d = sysfs.directory(DEV)) {
      assertInstanceOf(IllegalHostPathException.class,
          assertThrows(RuntimeException.class, () -> d.read("../0000:14:02.0/vendor")));
    }
  }
}
