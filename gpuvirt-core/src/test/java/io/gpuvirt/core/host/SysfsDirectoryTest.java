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
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Sysfs#readIfExists} and the {@link Sysfs#directory} view give what exists-then-read and
 * the path-based reads give: the same content, the same refusals, naming the same host path;
 * every case through the JDK's view and through the C library's ({@link NativeDirectory}).
 */
final class SysfsDirectoryTest {

  /** Through the JDK: {@code fstatat(2)} and {@code openat(2)} on the open directory. */
  @Nested
  final class ThroughTheJdk extends Cases {
    @Override
    Sysfs seam(Path root) {
      return new FileSystemSysfs(root, FileSystemSysfs.ReadPath.JDK);
    }
  }

  /** Through the C library: the listing's types, then openat, one read, close. */
  @Nested
  final class ThroughTheCLibrary extends Cases {
    @Override
    Sysfs seam(Path root) {
      return new FileSystemSysfs(root, FileSystemSysfs.ReadPath.NATIVE);
    }

    @Test
    void onLinux_theViewIsTheCLibrarys() {
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        assertEquals(NativeSysfsTest.nativeExpected(), d instanceof NativeDirectory);
      }
    }
  }

  /** The cases, for each way of reading. */
  abstract static class Cases {
    static final String DEV = "/sys/bus/pci/devices/0000:14:02.0";

    @TempDir Path root;
    Sysfs sysfs;
    Path dir;

    /** The seam under test, over {@code root}. */
    abstract Sysfs seam(Path root);

    @BeforeEach
    void setUp() throws Exception {
      dir = Files.createDirectories(root.resolve("sys/devices/pci0000:14/0000:14:02.0"));
      Files.createDirectories(root.resolve("sys/bus/pci/devices"));
      Files.writeString(dir.resolve("vendor"), "0x8086\n");
      Files.createSymbolicLink(root.resolve("sys/bus/pci/devices/0000:14:02.0"),
          Path.of("../../../devices/pci0000:14/0000:14:02.0"));
      sysfs = seam(root);
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

    @Test
    void directoryRead_fileSwappedForAFifoAfterTheListing_isRefusedWithoutBlocking() throws Exception {
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        Files.delete(dir.resolve("vendor"));
        fifo("vendor");
        SysfsFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
            () -> assertThrows(SysfsFormatException.class, () -> d.read("vendor")));
        assertTrue(e.getMessage().contains("a FIFO"), e.getMessage());
      }
    }

    @Test
    void directoryRead_linkToACharacterDevice_isRefusedNamingIt() throws Exception {
      Files.createSymbolicLink(dir.resolve("label"), Path.of("/dev/zero"));
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        SysfsFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
            () -> assertThrows(SysfsFormatException.class, () -> d.readIfExists("label")));
        assertTrue(e.getMessage().contains("a character device"), e.getMessage());
      }
    }

    @Test
    void directoryRead_emptyFile_isEmpty() throws Exception {
      Files.writeString(dir.resolve("label"), "");
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        assertEquals(List.of("", Optional.of("")), List.of(d.read("label"), d.readIfExists("label")));
      }
    }

    @Test
    void directoryRead_aSubdirectory_isRefusedNamingIt() throws Exception {
      Files.createDirectories(dir.resolve("power"));
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        assertTrue(assertThrows(SysfsFormatException.class, () -> d.read("power")).getMessage()
            .contains("a directory"));
      }
    }

    @Test
    void directoryExists_isWhatExistsSays() throws Exception {
      Files.createDirectories(dir.resolve("power"));
      Files.createSymbolicLink(dir.resolve("driver"), Path.of("nowhere"));
      Files.writeString(root.resolve("sys/real"), "x\n");
      Files.createSymbolicLink(dir.resolve("label"), root.resolve("sys/real"));
      List<String> names = List.of("vendor", "power", "driver", "label", "numa_node");
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        assertEquals(names.stream().map(n -> sysfs.exists(DEV + "/" + n)).toList(),
            names.stream().map(d::exists).toList());
        assertEquals(List.of(true, true, false, true, false), names.stream().map(d::exists).toList());
      }
    }

    @Test
    void directoryReadLink_isWhatReadLinkSays() throws Exception {
      Files.createDirectories(dir.resolve("power"));
      Files.createSymbolicLink(dir.resolve("driver"), Path.of("../../../bus/pci/drivers/nvidia"));
      Files.createSymbolicLink(dir.resolve("iommu_group"), Path.of("nowhere"));
      Files.createSymbolicLink(dir.resolve("physfn"), root.resolve("sys/devices"));
      Files.createSymbolicLink(dir.resolve("virtfn0"), Path.of("..//0000:14:02.1/"));
      List<String> names = List.of("vendor", "power", "driver", "iommu_group", "physfn",
          "virtfn0", "label");
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        assertEquals(names.stream().map(n -> sysfs.readLink(DEV + "/" + n)).toList(),
            names.stream().map(d::readLink).toList());
        assertEquals(List.of(Optional.empty(), Optional.empty(),
            Optional.of("../../../bus/pci/drivers/nvidia"), Optional.of("nowhere"),
            Optional.of(root.resolve("sys/devices").toString()), Optional.of("../0000:14:02.1"),
            Optional.empty()), names.stream().map(d::readLink).toList());
      }
    }

    @Test
    void directoryReadLink_nameThatIsNoPlainName_isRefusedAsJoinRefusesIt() {
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        for (String name : List.of("..", "../0000:14:02.0/driver", "")) {
          assertThrows(IllegalHostPathException.class, () -> d.readLink(name), name);
        }
      }
    }

    @Test
    void directoryReadLink_afterClose_stillAnswers() throws Exception {
      Files.createSymbolicLink(dir.resolve("driver"), Path.of("../../../bus/pci/drivers/nvidia"));
      Sysfs.Directory d = sysfs.directory(DEV);
      d.close();
      assertEquals(List.of(Optional.of("../../../bus/pci/drivers/nvidia"), Optional.empty()),
          List.of(d.readLink("driver"), d.readLink("vendor")));
    }

    @Test
    void directoryReadLink_fromSeveralThreadsAtOnce_answersEachTheSame() throws Exception {
      for (int i = 0; i < 64; i++) {
        Files.createSymbolicLink(dir.resolve("virtfn" + i), Path.of("../0000:14:0" + i + ".1"));
      }
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        List<Optional<String>> expected = java.util.stream.IntStream.range(0, 64)
            .mapToObj(i -> Optional.of("../0000:14:0" + i + ".1")).toList();
        for (int round = 0; round < 20; round++) {
          assertEquals(expected, java.util.stream.IntStream.range(0, 64).parallel()
              .mapToObj(i -> d.readLink("virtfn" + i)).toList());
        }
      }
    }

    /**
     * The C library's view keeps the first names it opens in native memory for the process; the
     * names beyond those it keeps, long names, names with a colon and names longer in UTF-8 than
     * in characters are passed the other way, and every one reads its own file, from threads.
     */
    @Test
    void directoryRead_ofManyDistinctNames_givesEachItsOwnContent() throws Exception {
      List<String> names = new java.util.ArrayList<>();
      for (int i = 0; i < 3 * NativeDirectory.NAMES_KEPT; i++) {
        names.add("attribute_" + i);
      }
      names.add("x".repeat(NativeDirectory.NAME_BYTES + 1));
      names.add("0000:14:02.0-like");
      names.add("\u00fc".repeat(NativeDirectory.NAME_BYTES / 2 + 1));
      for (String name : names) {
        Files.writeString(dir.resolve(name), name + "\n");
      }
      Files.createSymbolicLink(dir.resolve("link_to_vendor"), Path.of("vendor"));
      try (Sysfs.Directory d = sysfs.directory(DEV)) {
        for (int round = 0; round < 3; round++) {
          assertEquals(names.stream().map(n -> n + "\n").toList(),
              names.parallelStream().map(d::read).toList());
          assertEquals(Optional.of("vendor"), d.readLink("link_to_vendor"));
        }
      }
    }

    @Test
    void directoryRead_afterClose_stillAnswersThePathBasedWay() {
      Sysfs.Directory d = sysfs.directory(DEV);
      d.close();
      assertEquals("0x8086\n", d.read("vendor"));
    }

  }
}
