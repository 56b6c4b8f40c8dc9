package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Sriov;
import java.nio.file.FileSystemException;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code sriov_numvfs} creates and removes VFs with the kernel's rules (SYSFS.md §6). */
final class SriovTest {
  private static final String PF = "0000:18:00.0";
  private static final String NUMVFS = "/sys/bus/pci/devices/" + PF + "/sriov_numvfs";

  private SimulatedHost host;
  private Sysfs sysfs;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.hgxB200();
    sysfs = host.sysfs();
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private PciDevice read(String bdf) {
    return ContractReader.device(sysfs, PciAddress.parse(bdf));
  }

  private String errno(Runnable write) {
    HostAccessException e = assertThrows(HostAccessException.class, write::run);
    return ((FileSystemException) e.getCause()).getReason();
  }

  @Test
  void numVfs_createsVfsLinkedBothWays() {
    sysfs.write(NUMVFS, "3");
    List<PciAddress> vfs = List.of(PciAddress.parse("18:00.1"), PciAddress.parse("18:00.2"),
        PciAddress.parse("18:00.3"));
    assertEquals(List.of(Optional.of(new Sriov(8, 3, vfs)), Optional.of(PciAddress.parse(PF))),
        List.of(read(PF).sriov(), read("0000:18:00.2").physicalFunction()));
  }

  @Test
  void numVfs_vfsSitNextToThePfBehindTheSamePort() {
    sysfs.write(NUMVFS, "1");
    assertEquals(read(PF).parent(), read("0000:18:00.1").parent());
  }

  @Test
  void numVfs_vfsGetTheVfIdTheirOwnGroupAndTheVfDriver() {
    sysfs.write(NUMVFS, "2");
    PciDevice vf = read("0000:18:00.2");
    assertEquals(List.of("15b3:101e", true, Optional.of("mlx5_core"), true),
        List.of(vf.id().toString(), vf.iommuGroup().getAsInt() > read(PF).iommuGroup().getAsInt(),
            vf.driver(), vf.resettable()));
  }

  @Test
  void numVfs_vfBarsComeFromThePfVfRegion() {
    sysfs.write(NUMVFS, "2");
    long base = host.profile().device(PciAddress.parse(PF)).orElseThrow().sriov().orElseThrow()
        .vfBar().start();
    assertEquals(List.of(base, base + (1L << 20)), List.of(read("0000:18:00.1").bars().get(0)
        .start(), read("0000:18:00.2").bars().get(0).start()));
  }

  @Test
  void numVfs_aboveTotal_failsWithErange() {
    assertEquals("Numerical result out of range", errno(() -> sysfs.write(NUMVFS, "9")));
  }

  @Test
  void numVfs_changeWhileEnabled_failsWithEbusy() {
    sysfs.write(NUMVFS, "2");
    assertEquals("Device or resource busy", errno(() -> sysfs.write(NUMVFS, "4")));
  }

  @Test
  void numVfs_sameValue_isANoOp() {
    sysfs.write(NUMVFS, "2");
    sysfs.write(NUMVFS, "2");
    assertEquals(2, read(PF).sriov().orElseThrow().numVfs());
  }

  @Test
  void numVfs_zero_removesTheVfs() {
    sysfs.write(NUMVFS, "4");
    sysfs.write(NUMVFS, "0");
    assertEquals(host.expectedTopology().devices(), ContractReader.scan(sysfs).devices());
  }

  @Test
  void numVfs_onAPfWithoutDriver_failsWithEnoent() {
    sysfs.write("/sys/bus/pci/drivers/mlx5_core/unbind", PF);
    assertEquals("No such file or directory", errno(() -> sysfs.write(NUMVFS, "2")));
  }

  @ParameterizedTest
  @ValueSource(strings = {"two", "-1", ""})
  void numVfs_notANumber_failsWithEinval(String value) {
    assertEquals("Invalid argument", errno(() -> sysfs.write(NUMVFS, value)));
  }

  @Test
  void numVfs_withAutoprobeOff_leavesVfsUnbound() {
    sysfs.write("/sys/bus/pci/devices/" + PF + "/sriov_drivers_autoprobe", "0");
    sysfs.write(NUMVFS, "1");
    assertEquals(Optional.empty(), read("0000:18:00.1").driver());
  }

  @Test
  void unbindingThePf_removesItsVfs() {
    sysfs.write(NUMVFS, "2");
    sysfs.write("/sys/bus/pci/drivers/mlx5_core/unbind", PF);
    assertEquals(List.of(false, "0\n"), List.of(sysfs.exists("/sys/bus/pci/devices/0000:18:00.1"),
        sysfs.read(NUMVFS)));
  }

  @Test
  void vfs_canBeMovedToVfio() {
    sysfs.write(NUMVFS, "1");
    String vf = "0000:18:00.1";
    sysfs.write("/sys/bus/pci/devices/" + vf + "/driver_override", "vfio-pci");
    sysfs.write("/sys/bus/pci/devices/" + vf + "/driver/unbind", vf);
    sysfs.write("/sys/bus/pci/drivers_probe", vf);
    assertEquals(Optional.of("vfio-pci"), read(vf).driver());
  }

  @Test
  void vfs_haveNoRemoveFile() {
    sysfs.write(NUMVFS, "1");
    assertEquals(List.of(false, true), List.of(
        sysfs.exists("/sys/bus/pci/devices/0000:18:00.1/remove"),
        sysfs.exists("/sys/bus/pci/devices/" + PF + "/remove")));
  }

  @Test
  void numVfs_updatesThePfConfigSpace() {
    sysfs.write(NUMVFS, "5");
    byte[] c = sysfs.readBytes("/sys/bus/pci/devices/" + PF + "/config");
    int pos = 0x100;
    int numVfs = -1;
    while (pos != 0) {
      int header = (c[pos] & 0xff) | (c[pos + 1] & 0xff) << 8 | (c[pos + 2] & 0xff) << 16
          | (c[pos + 3] & 0xff) << 24;
      if ((header & 0xffff) == 0x10) {
        numVfs = (c[pos + 0x10] & 0xff) | (c[pos + 0x11] & 0xff) << 8;
      }
      pos = header >>> 20;
    }
    assertEquals(5, numVfs);
  }

  @Test
  void profile_withVfsEnabledAtBoot_writesThem() {
    DeviceSpec pf = host.profile().device(PciAddress.parse(PF)).orElseThrow();
    HostProfile p = host.profile().toBuilder().device(pf.toBuilder()
        .sriov(pf.sriov().orElseThrow().withEnabledVfs(3)).build()).build();
    try (SimulatedHost h = SimulatedHost.create(p)) {
      assertEquals(h.expectedTopology().devices(), ContractReader.scan(h.sysfs()).devices());
    }
  }
}
