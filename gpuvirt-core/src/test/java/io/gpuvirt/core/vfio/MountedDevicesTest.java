package io.gpuvirt.core.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.host.SysfsFormatException;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The mount table parser and the block-device-to-PCI-function trace of {@link MountedDevices}. */
final class MountedDevicesTest {
  private static final String PORT = "sys/devices/pci0000:00/0000:00:1c.0";
  private static final PciAddress NVME0 = PciAddress.parse("0000:02:00.0");
  private static final PciAddress NVME1 = PciAddress.parse("0000:03:00.0");
  private static final PciAddress AHCI = PciAddress.parse("0000:00:17.0");

  @TempDir Path root;

  @Test
  void parse_kernelLines_decodesFieldsAndEscapes() {
    List<MountedDevices.Mount> mounts = MountedDevices.parse(
        "/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n"
            + "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
            + "/dev/sdb1 /media/usb\\040stick\\011x vfat rw 0 2\n");

    assertEquals(List.of(new MountedDevices.Mount("/dev/nvme0n1p2", "/", "ext4"),
        new MountedDevices.Mount("proc", "/proc", "proc"),
        new MountedDevices.Mount("/dev/sdb1", "/media/usb stick\tx", "vfat")), mounts);
  }

  @Test
  void parse_empty_hasNoMounts() {
    assertEquals(List.of(), MountedDevices.parse(""));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "/dev/sda1 / ext4 rw 0",                 // five fields
      "/dev/sda1 / ext4 rw 0 0 extra",         // seven fields
      "/dev/sda1  / ext4 rw 0 0",              // a double space: an empty field
      "/dev/sda1 / ext4 rw x 0",               // dump not a number
      "/dev/sda1 relative ext4 rw 0 0",        // mount point not absolute
      "/dev/sda1 /a\\b ext4 rw 0 0",           // a backslash that is no octal escape
      "/dev/sda1 /a\\04 ext4 rw 0 0",          // a short escape at the end
      "/dev/sda1 /a\\400 ext4 rw 0 0",         // an escape above \377
      ""})                                     // an empty line
  void parse_malformedLine_refusedNamingFileAndLine(String bad) {
    SysfsFormatException e = assertThrows(SysfsFormatException.class,
        () -> MountedDevices.parse("proc /proc proc rw 0 0\n" + bad + "\n"));

    assertEquals("/proc/self/mounts", e.path());
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
  }

  @Test
  void of_noMountTable_isEmpty() {
    assertEquals(Optional.empty(), MountedDevices.of(Sysfs.at(root)));
  }

  @Test
  void of_nvmePartition_isBackedByItsController() throws IOException {
    nvme("0000:02:00.0", "nvme0", "nvme0n1", "nvme0n1p2");
    mounts("/dev/nvme0n1p2 / ext4 rw,relatime 0 0\ntmpfs /run tmpfs rw 0 0\n");

    assertEquals(List.of(new MountedDevices.Backing(NVME0, "/dev/nvme0n1p2", "/", "ext4")),
        backings());
  }

  @Test
  void of_deviceMapperOverMdPartitions_findsEveryDiskBelow() throws IOException {
    nvme("0000:02:00.0", "nvme0", "nvme0n1", "nvme0n1p1");
    nvme("0000:03:00.0", "nvme1", "nvme1n1", "nvme1n1p1");
    Path md = virtualBlock("md127");
    link(md.resolve("slaves/nvme0n1p1"), classBlock("nvme0n1p1"));
    link(md.resolve("slaves/nvme1n1p1"), classBlock("nvme1n1p1"));
    partition(md, "md127p1", 1);
    Path dm = virtualBlock("dm-0");
    write(dm.resolve("dm/name"), "vg0-root\n");
    link(dm.resolve("slaves/md127p1"), classBlock("md127p1"));
    mounts("/dev/mapper/vg0-root / xfs rw 0 0\n");

    assertEquals(List.of(new MountedDevices.Backing(NVME0, "/dev/mapper/vg0-root", "/", "xfs"),
        new MountedDevices.Backing(NVME1, "/dev/mapper/vg0-root", "/", "xfs")), backings());
  }

  @Test
  void of_multipathNamespace_isBackedByEverySubsystemController() throws IOException {
    Path c0 = Files.createDirectories(root.resolve(PORT + "/0000:02:00.0/nvme/nvme0"));
    Path c1 = Files.createDirectories(root.resolve(PORT + "/0000:03:00.0/nvme/nvme1"));
    Path subsys = Files.createDirectories(root.resolve(
        "sys/devices/virtual/nvme-subsystem/nvme-subsys0"));
    link(subsys.resolve("nvme0"), c0);
    link(subsys.resolve("nvme1"), c1);
    Path ns = Files.createDirectories(subsys.resolve("nvme0n1"));
    link(classBlock("nvme0n1"), ns);
    partition(ns, "nvme0n1p1", 1);
    mounts("/dev/nvme0n1p1 /data ext4 rw 0 0\n");

    assertEquals(List.of(new MountedDevices.Backing(NVME0, "/dev/nvme0n1p1", "/data", "ext4"),
        new MountedDevices.Backing(NVME1, "/dev/nvme0n1p1", "/data", "ext4")), backings());
  }

  @Test
  void of_sataDisk_isBackedByTheLastPciFunctionOnItsPath() throws IOException {
    Path sda = Files.createDirectories(root.resolve(
        "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"));
    link(classBlock("sda"), sda);
    partition(sda, "sda1", 1);
    mounts("/dev/sda1 /srv ext4 rw 0 0\n");

    assertEquals(List.of(new MountedDevices.Backing(AHCI, "/dev/sda1", "/srv", "ext4")),
        backings());
  }

  @Test
  void of_virtualAndUnknownSources_backNothing() throws IOException {
    virtualBlock("loop0");
    mounts("/dev/loop0 /snap/core squashfs ro 0 0\n/dev/root / ext4 rw 0 0\n"
        + "overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n"
        + "server:/export /mnt nfs4 rw 0 0\n");

    assertEquals(List.of(), backings());
  }

  @Test
  void of_thisMachine_readsItsMountTableAndNamesOnlyItsPciDevices() {
    Assumptions.assumeTrue(Files.isRegularFile(Path.of("/proc/self/mounts")), "no /proc here");
    Sysfs host = Sysfs.host();

    for (MountedDevices.Backing b : MountedDevices.of(host).orElseThrow()) {
      assertTrue(host.exists(b.device().sysfsPath()), b + " names no PCI device of this host");
    }
  }

  private List<MountedDevices.Backing> backings() {
    return MountedDevices.of(Sysfs.at(root)).orElseThrow();
  }

  /** An NVMe controller's namespace and partition where the nvme driver puts them. */
  private void nvme(String bdf, String controller, String namespace, String partition)
      throws IOException {
    Path ns = Files.createDirectories(root.resolve(PORT).resolve(bdf).resolve("nvme")
        .resolve(controller).resolve(namespace));
    link(classBlock(namespace), ns);
    partition(ns, partition, 1);
  }

  private Path virtualBlock(String name) throws IOException {
    Path dir = Files.createDirectories(root.resolve("sys/devices/virtual/block").resolve(name));
    Files.createDirectories(dir.resolve("slaves"));
    link(classBlock(name), dir);
    return dir;
  }

  private void partition(Path disk, String name, int number) throws IOException {
    Path dir = Files.createDirectories(disk.resolve(name));
    write(dir.resolve("partition"), number + "\n");
    link(classBlock(name), dir);
  }

  private Path classBlock(String name) {
    return root.resolve("sys/class/block").resolve(name);
  }

  private void mounts(String text) throws IOException {
    write(root.resolve("proc/self/mounts"), text);
  }

  private static void write(Path file, String text) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(file, text);
  }

  private static void link(Path link, Path target) throws IOException {
    Files.createDirectories(link.getParent());
    Files.createSymbolicLink(link, link.getParent().relativize(target));
  }
}
