package io.gpuvirt.core.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When the file-system seam reads through the C library, and that it then answers the same. */
final class NativeSysfsTest {
  @TempDir Path root;

  /** 64-bit Linux on x86-64 or aarch64, where the C library's reader must be bound. */
  static boolean nativeExpected() {
    String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch");
    return os.equals("linux") && (arch.equals("amd64") || arch.equals("aarch64"));
  }

  @Test
  void onLinuxX86OrArm_theCLibraryIsBound() {
    assertEquals(nativeExpected(), FileSystemSysfs.nativeAvailable());
  }

  @Test
  void jdkSeam_neverReadsThroughTheCLibrary() throws Exception {
    Files.createDirectories(root.resolve("sys/d"));
    Sysfs jdk = new FileSystemSysfs(root, FileSystemSysfs.ReadPath.JDK);
    try (Sysfs.Directory d = jdk.directory("/sys/d")) {
      assertFalse(d instanceof NativeDirectory);
    }
  }

  @Test
  void outsideSys_theJdkReads() throws Exception {
    Files.createDirectories(root.resolve("etc/modprobe.d"));
    Sysfs seam = new FileSystemSysfs(root, FileSystemSysfs.ReadPath.NATIVE);
    try (Sysfs.Directory d = seam.directory("/etc/modprobe.d")) {
      assertFalse(d instanceof NativeDirectory);
    }
  }

  @Test
  void list_isTheJdkSeamsList_andAMissingDirectoryRaisesTheSame() throws Exception {
    Path dir = Files.createDirectories(root.resolve("sys/kernel/iommu_groups/7/devices"));
    for (String name : List.of("0000:18:00.1", "0000:18:00.0", "z", "a b")) {
      Files.writeString(dir.resolve(name), "");
    }
    Sysfs jdk = new FileSystemSysfs(root, FileSystemSysfs.ReadPath.JDK);
    Sysfs c = new FileSystemSysfs(root, FileSystemSysfs.ReadPath.NATIVE);
    String path = "/sys/kernel/iommu_groups/7/devices";
    assertEquals(jdk.list(path), c.list(path));
    String missing = "/sys/kernel/iommu_groups/8/devices";
    assertEquals(assertThrows(HostAccessException.class, () -> jdk.list(missing)).getMessage(),
        assertThrows(HostAccessException.class, () -> c.list(missing)).getMessage());
  }

  @Test
  void readLink_isTheJdkSeamsReadLink() throws Exception {
    Path dir = Files.createDirectories(root.resolve("sys/devices/pci0000:00/0000:00:01.0"));
    Files.writeString(dir.resolve("vendor"), "0x10de\n");
    Files.createSymbolicLink(dir.resolve("driver"), Path.of("../../../bus/pci/drivers/vfio-pci"));
    Files.createSymbolicLink(dir.resolve("trailing"), Path.of("../../x/"));
    Files.createSymbolicLink(dir.resolve("doubled"), Path.of("../..//x"));
    Files.createSymbolicLink(dir.resolve("absolute"), Path.of("/sys/devices"));
    Sysfs jdk = new FileSystemSysfs(root, FileSystemSysfs.ReadPath.JDK);
    Sysfs c = new FileSystemSysfs(root, FileSystemSysfs.ReadPath.NATIVE);
    String d = "/sys/devices/pci0000:00/0000:00:01.0";
    for (String name : List.of("driver", "trailing", "doubled", "absolute", "vendor", "missing",
        "vendor/below")) {
      assertEquals(jdk.readLink(d + "/" + name), c.readLink(d + "/" + name), name);
    }
    assertEquals(jdk.readLink(d), c.readLink(d));
    assertEquals(java.util.Optional.of("../../../bus/pci/drivers/vfio-pci"),
        c.readLink(d + "/driver"));
  }

  /**
   * The seam the API hands out starts with the JDK and moves to the C library once the process
   * has opened {@value FileSystemSysfs#NATIVE_AFTER} directories, answering the same before and
   * after.
   */
  @Test
  void atRoot_movesToTheCLibraryAfterEnoughDirectories_answeringTheSame() throws Exception {
    Path dir = Files.createDirectories(root.resolve("sys/devices/pci0000:00/0000:00:01.0"));
    Files.writeString(dir.resolve("vendor"), "0x10de\n");
    Files.writeString(dir.resolve("class"), "0x030200\n");
    Sysfs seam = Sysfs.at(root);
    String path = "/sys/devices/pci0000:00/0000:00:01.0";
    List<Object> first = answers(seam, path);
    boolean wentNative = false;
    for (int i = 0; i <= FileSystemSysfs.NATIVE_AFTER; i++) {
      try (Sysfs.Directory d = seam.directory(path)) {
        wentNative |= d instanceof NativeDirectory;
        assertEquals(first, answers(d));
      }
    }
    assertEquals(nativeExpected(), wentNative);
  }

  private static List<Object> answers(Sysfs seam, String path) {
    try (Sysfs.Directory d = seam.directory(path)) {
      return answers(d);
    }
  }

  private static List<Object> answers(Sysfs.Directory d) {
    return List.of(d.list(), d.read("vendor"), d.readIfExists("class"), d.readIfExists("label"),
        d.exists("vendor"), d.exists("label"));
  }

  /**
   * A function directory that is a link below its bridge (here to another root bus): the scan
   * follows it, as {@link Sysfs#canonicalPath} does, through the JDK and through the C library,
   * whose view of the bridge lists that entry as a link; and an ordinary tree reads the same both
   * ways, the bridge's listing standing in for each function's own readlink.
   */
  @Test
  void scan_functionDirectoryThatIsALinkBelowItsBridge_followsIt_throughEitherPath()
      throws Exception {
    Path devices = Files.createDirectories(root.resolve("sys/devices"));
    Path bus = Files.createDirectories(root.resolve("sys/bus/pci/devices"));
    Path bridge = Files.createDirectories(devices.resolve("pci0000:14/0000:14:01.0"));
    function(bridge, "0x060400");
    Files.writeString(bridge.resolve("secondary_bus_number"), "21\n");
    Files.writeString(bridge.resolve("subordinate_bus_number"), "22\n");
    function(Files.createDirectories(devices.resolve("pci0000:20/0000:15:00.0")), "0x030200");
    Files.createSymbolicLink(bridge.resolve("0000:15:00.0"),
        Path.of("../../pci0000:20/0000:15:00.0"));
    function(Files.createDirectories(bridge.resolve("0000:16:00.0")), "0x030200");
    Files.createSymbolicLink(bus.resolve("0000:14:01.0"),
        Path.of("../../../devices/pci0000:14/0000:14:01.0"));
    Files.createSymbolicLink(bus.resolve("0000:15:00.0"),
        Path.of("../../../devices/pci0000:14/0000:14:01.0/0000:15:00.0"));
    Files.createSymbolicLink(bus.resolve("0000:16:00.0"),
        Path.of("../../../devices/pci0000:14/0000:14:01.0/0000:16:00.0"));
    List<List<Object>> places = new java.util.ArrayList<>();
    for (FileSystemSysfs.ReadPath how : List.of(FileSystemSysfs.ReadPath.JDK,
        FileSystemSysfs.ReadPath.NATIVE)) {
      places.add(io.gpuvirt.core.pci.TopologyScanner.scan(new FileSystemSysfs(root, how))
          .devices().stream().map(d -> (Object) List.of(d.address().toString(), d.rootBus(),
              d.parent().map(Object::toString).orElse("none"))).toList());
    }
    List<Object> expected = List.of(List.of("0000:14:01.0", "0000:14", "none"),
        List.of("0000:15:00.0", "0000:20", "none"),
        List.of("0000:16:00.0", "0000:14", "0000:14:01.0"));
    assertEquals(List.of(expected, expected), places);
  }

  private static void function(Path dir, String pciClass) throws Exception {
    Files.writeString(dir.resolve("vendor"), "0x10de\n");
    Files.writeString(dir.resolve("device"), "0x2901\n");
    Files.writeString(dir.resolve("class"), pciClass + "\n");
    Files.writeString(dir.resolve("resource"),
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(7));
  }
}
