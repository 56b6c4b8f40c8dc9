package io.gpuvirt.testkit.binding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.host.SysfsFormatException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.GroupRefusedException;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.testkit.DeviceSpec;
import io.gpuvirt.testkit.ForwardingSysfs;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The guard rails of a bind: a device that backs a mounted filesystem and a target driver that is
 * not a VFIO driver are refused before any write, and each has an override that works.
 */
final class BindGuardTest {
  private static final PciAddress WS_GPU = PciAddress.parse("0000:01:00.0");
  private static final PciAddress WS_NVME = PciAddress.parse("0000:02:00.0");
  private static final PciAddress B200_NVME = PciAddress.parse("0000:06:00.0");

  /** Counts the writes that reach the host. */
  private static final class CountingSysfs extends ForwardingSysfs {
    private int writes;

    CountingSysfs(Sysfs host) {
      super(host);
    }

    @Override
    public void write(String path, String value) {
      writes++;
      super.write(path, value);
    }
  }

  /** A host whose mount table is missing (a chroot without /proc). */
  private static final class NoProcSysfs extends ForwardingSysfs {
    NoProcSysfs(Sysfs host) {
      super(host);
    }

    @Override
    public boolean exists(String path) {
      return !path.startsWith("/proc/") && super.exists(path);
    }
  }

  private static BindRequest.Builder request(PciAddress device) {
    return BindRequest.builder().device(device);
  }

  @Test
  void bind_workstationNvme_refusedNamingTheRootMountWithoutAWrite() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      CountingSysfs sysfs = new CountingSysfs(host.sysfs());

      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(sysfs).bind(request(WS_NVME).build()));

      assertEquals(0, sysfs.writes);
      assertEquals(List.of(WS_NVME), e.foreignDevices());
      for (String part : List.of("0000:02:00.0", "/dev/nvme0n1p2 on / (ext4)",
          "/dev/nvme0n1p1 on /boot/efi (vfat)", "allowMountedDevices(true)")) {
        assertTrue(e.getMessage().contains(part), part + " missing from: " + e.getMessage());
      }
    }
  }

  @Test
  void plan_workstationNvme_refused() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(host.sysfs()).plan(request(WS_NVME).build()));
    }
  }

  @Test
  void bind_workstationNvmeAllowed_bindsIt() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());

      binder.bind(request(WS_NVME).allowMountedDevices(true).build());

      assertEquals(Optional.of("vfio-pci"), binder.driverOf(WS_NVME));
    }
  }

  @Test
  void bind_workstationGpu_isNotRefusedForTheNvmesMounts() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(host.sysfs());

      binder.bind(request(WS_GPU).build());

      assertEquals(Optional.of("vfio-pci"), binder.driverOf(WS_GPU));
    }
  }

  @Test
  void bind_mountOnAnotherProfilesWholeNamespace_refusedNamingItsEscapedMountPoint() {
    HostProfile b200 = HostProfile.hgxB200();
    DeviceSpec nvme = b200.device(B200_NVME).orElseThrow();
    HostProfile profile = b200.toBuilder().name("b200-data")
        .device(nvme.toBuilder().mount("nvme0n1", 0, "/srv/scratch data", "xfs").build()).build();
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      CountingSysfs sysfs = new CountingSysfs(host.sysfs());

      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(sysfs).bind(request(B200_NVME).build()));

      assertEquals(0, sysfs.writes);
      assertTrue(e.getMessage().contains("/dev/nvme0n1 on /srv/scratch data (xfs)"),
          e.getMessage());
    }
  }

  @Test
  void bind_noMountTable_refusedWithoutAWrite() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      CountingSysfs sysfs = new CountingSysfs(new NoProcSysfs(host.sysfs()));

      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(sysfs).bind(request(WS_GPU).build()));

      assertEquals(0, sysfs.writes);
      assertTrue(e.getMessage().contains("/proc/self/mounts does not exist"), e.getMessage());
    }
  }

  @Test
  void bind_noMountTableAllowed_binds() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      VfioBinder binder = VfioBinder.on(new NoProcSysfs(host.sysfs()));

      binder.bind(request(WS_GPU).allowMountedDevices(true).build());

      assertEquals(Optional.of("vfio-pci"), binder.driverOf(WS_GPU));
    }
  }

  @Test
  void bind_malformedMountTable_refusedNamingTheLineWithoutAWrite() throws IOException {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      Files.writeString(host.root().resolve("proc/self/mounts"),
          "/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n/dev/nvme0n1p1 /boot/efi vfat\n");
      CountingSysfs sysfs = new CountingSysfs(host.sysfs());

      SysfsFormatException e = assertThrows(SysfsFormatException.class,
          () -> VfioBinder.on(sysfs).bind(request(WS_GPU).build()));

      assertEquals(0, sysfs.writes);
      assertEquals("/proc/self/mounts", e.path());
      assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    }
  }

  @Test
  void bind_nonVfioDriver_refusedNamingDeviceDriverAndOverrideWithoutAWrite() {
    HostProfile profile = HostProfile.workstation().toBuilder().loadDriver("pci-stub").build();
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      CountingSysfs sysfs = new CountingSysfs(host.sysfs());

      GroupRefusedException e = assertThrows(GroupRefusedException.class,
          () -> VfioBinder.on(sysfs).bind(request(WS_GPU).driver("pci-stub").build()));

      assertEquals(0, sysfs.writes);
      for (String part : List.of("0000:01:00.0", "pci-stub", "not a VFIO driver",
          "allowNonVfioDriver(true)")) {
        assertTrue(e.getMessage().contains(part), part + " missing from: " + e.getMessage());
      }
    }
  }

  @Test
  void bind_nonVfioDriverAllowed_bindsTheGroupToIt() {
    HostProfile profile = HostProfile.workstation().toBuilder().loadDriver("pci-stub").build();
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      VfioBinder binder = VfioBinder.on(host.sysfs());

      binder.bind(request(WS_GPU).driver("pci-stub").allowNonVfioDriver(true).build());

      assertEquals(Optional.of("pci-stub"), binder.driverOf(WS_GPU));
    }
  }

  @Test
  void plan_vfioVariantDriver_isNotRefusedAsNonVfio() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      assertEquals(2, VfioBinder.on(host.sysfs())
          .plan(request(WS_GPU).driver("nvgrace_gpu_vfio_pci").build()).size());
    }
  }
}
