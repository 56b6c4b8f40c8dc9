package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import org.junit.jupiter.api.Test;

/** The block devices and mount table a profile's {@link DeviceSpec.MountSpec}s put in the tree. */
final class MountsTest {
  private static final PciAddress WS_NVME = PciAddress.parse("0000:02:00.0");

  @Test
  void workstation_mountTable_listsTheRootFilesystemFirstAndTheKernelsOwn() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      String mounts = host.sysfs().read("/proc/self/mounts");

      assertTrue(mounts.startsWith("/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n"), mounts);
      for (String line : new String[] {"sysfs /sys sysfs ", "proc /proc proc ", "tmpfs /run tmpfs ",
          "/dev/nvme0n1p1 /boot/efi vfat rw,relatime 0 0\n"}) {
        assertTrue(mounts.contains(line), line + " missing from " + mounts);
      }
    }
  }

  @Test
  void workstation_classBlockLinks_leadIntoTheNvmesDeviceDirectory() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      Sysfs sysfs = host.sysfs();
      String device = sysfs.canonicalPath(WS_NVME.sysfsPath());

      assertEquals(device + "/nvme/nvme0/nvme0n1", sysfs.canonicalPath("/sys/block/nvme0n1"));
      assertEquals(device + "/nvme/nvme0/nvme0n1",
          sysfs.canonicalPath("/sys/class/block/nvme0n1"));
      assertEquals(device + "/nvme/nvme0/nvme0n1/nvme0n1p1",
          sysfs.canonicalPath("/sys/class/block/nvme0n1p1"));
      assertEquals("2\n", sysfs.read("/sys/class/block/nvme0n1p2/partition"));
    }
  }

  @Test
  void mountPointWithSpace_isWrittenWithTheKernelsEscape() {
    HostProfile p = HostProfile.workstation().toBuilder().name("ws-data").device(
        HostProfile.workstation().device(WS_NVME).orElseThrow().toBuilder()
            .mount("nvme0n1", 3, "/srv/my data", "xfs").build()).build();
    try (SimulatedHost host = SimulatedHost.create(p)) {
      assertTrue(host.sysfs().read("/proc/self/mounts")
          .contains("/dev/nvme0n1p3 /srv/my\\040data xfs rw,relatime 0 0\n"));
    }
  }

  @Test
  void reopenedHost_keepsItsMounts() {
    try (SimulatedHost host = SimulatedHost.workstation();
        SimulatedHost again = SimulatedHost.open(host.root())) {
      assertEquals(host.profile(), again.profile());
    }
  }

  @Test
  void build_mountPointUsedTwice_refusedNamingIt() {
    DeviceSpec nvme = HostProfile.workstation().device(WS_NVME).orElseThrow();
    HostProfile.Builder b = HostProfile.workstation().toBuilder()
        .device(nvme.toBuilder().mount("nvme0n1", 3, "/", "xfs").build());

    InvalidValueException e = assertThrows(InvalidValueException.class, b::build);

    assertTrue(e.getMessage().contains("mount point / is used twice"), e.getMessage());
  }

  @Test
  void mountSpec_badNamespace_refused() {
    assertThrows(InvalidValueException.class,
        () -> new DeviceSpec.MountSpec("sda", 1, "/", "ext4"));
  }
}
