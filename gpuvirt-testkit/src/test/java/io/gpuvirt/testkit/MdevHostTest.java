package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.vgpu.MdevType;
import io.gpuvirt.core.vgpu.VgpuCapability;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuException;
import io.gpuvirt.core.vgpu.VgpuFullException;
import io.gpuvirt.core.vgpu.VgpuInterface;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The legacy mdev path on the simulated T4 host: the kernel model and VgpuDevices against it. */
final class MdevHostTest {
  private static final PciAddress PF = PciAddress.parse("0000:3b:00.0");
  private static final PciAddress OTHER_PF = PciAddress.parse("0000:af:00.0");
  private static final VgpuType Q1 = VgpuTypeCatalogue.t4().require("T4-1Q");
  private static final VgpuType Q4 = VgpuTypeCatalogue.t4().require("T4-4Q");
  private static final String TYPES = "/sys/class/mdev_bus/" + PF + "/mdev_supported_types/";

  private SimulatedHost host;
  private Sysfs sysfs;
  private VgpuDevices vgpu;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.t4Mdev();
    sysfs = host.sysfs();
    vgpu = VgpuDevices.on(sysfs, new FakeSriovManage(sysfs)).withRetry(2, Duration.ZERO);
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private static UUID uuid(int n) {
    return UUID.fromString(String.format("00000000-0000-0000-0000-%012d", n));
  }

  private String errno(Runnable write) {
    HostAccessException e = assertThrows(HostAccessException.class, write::run);
    return ((FileSystemException) e.getCause()).getReason();
  }

  private String hostSnapshot() throws IOException {
    StringBuilder b = new StringBuilder();
    try (var paths = Files.walk(host.root().resolve("sys"))) {
      for (Path p : paths.sorted().toList()) {
        b.append(host.root().relativize(p)).append('\n');
        if (p.getFileName().toString().equals("available_instances")) {
          b.append(Files.readString(p));
        }
      }
    }
    return b.toString();
  }

  @Test
  void capabilities_bothT4sAreLegacyMdevWithoutVfs() {
    PciId t4 = new PciId(0x10de, 0x1eb8);
    assertEquals(List.of(
            new VgpuCapability(PF, t4, 0, VgpuInterface.LEGACY_MDEV, 0, List.of()),
            new VgpuCapability(OTHER_PF, t4, 1, VgpuInterface.LEGACY_MDEV, 0, List.of())),
        vgpu.capabilities());
  }

  @Test
  void mdevTypes_listTheCatalogueWithTheDriversFiles() {
    List<MdevType> types = vgpu.mdevTypes(PF);
    MdevType q1 = types.stream().filter(t -> t.id() == 230).findFirst().orElseThrow();
    assertEquals(List.of(10, "nvidia-230", "GRID T4-1Q", 16, "vfio-pci",
            "num_heads=4, frl_config=60, framebuffer=1024M, max_resolution=5120x2880, "
                + "max_instance=16"),
        List.of(types.size(), q1.directory(), q1.name(), q1.availableInstances(), q1.deviceApi(),
            q1.description()));
  }

  @Test
  void lspciAndTheScanner_readTheTreeWithMediatedDevices() {
    vgpu.createMdev(PF, Q1, uuid(1));
    String out = Tools.lspci(host, "-n", "-s", "3b:00.0");
    assertTrue(out.contains("10de:1eb8"), out);
    assertEquals(2, TopologyScanner.scan(sysfs).gpus().size());
  }

  @Test
  void createMdev_makesTheDeviceLinkedFromTheMdevBusAndItsType() {
    vgpu.createMdev(PF, Q1, uuid(1));
    assertEquals(List.of(Optional.of(230), Map.of(uuid(1), 230), "15"),
        List.of(vgpu.mdevType(uuid(1)), vgpu.mdevs(PF),
            sysfs.read(TYPES + "nvidia-230/available_instances").strip()));
    assertTrue(sysfs.readLink("/sys/bus/mdev/devices/" + uuid(1)).orElseThrow()
        .endsWith(PF + "/" + uuid(1)));
  }

  @Test
  void createMdev_homogeneous_otherTypesHaveNoInstanceLeft() {
    vgpu.createMdev(PF, Q1, uuid(1));
    assertEquals("0", sysfs.read(TYPES + "nvidia-232/available_instances").strip());
    VgpuFullException e = assertThrows(VgpuFullException.class,
        () -> vgpu.createMdev(PF, Q4, uuid(2)));
    assertTrue(e.getMessage().contains("GRID T4-4Q") && e.getMessage().contains("[230]"),
        e.getMessage());
  }

  @Test
  void createMdev_untilFull_thenARefusalThatSaysSo() {
    for (int i = 0; i < 4; i++) {
      vgpu.createMdev(PF, Q4, uuid(i));
    }
    VgpuFullException e = assertThrows(VgpuFullException.class,
        () -> vgpu.createMdev(PF, Q4, uuid(9)));
    assertTrue(e.getMessage().contains("available_instances is 0"), e.getMessage());
    assertEquals(4, vgpu.mdevs(PF).size());
  }

  @Test
  void createMdev_sameUuidAndTypeTwiceIsIdempotent() {
    vgpu.createMdev(PF, Q1, uuid(1));
    vgpu.createMdev(PF, Q1, uuid(1));
    assertEquals(1, vgpu.mdevs(PF).size());
  }

  @Test
  void createMdev_uuidInUseWithAnotherTypeIsRefused() {
    vgpu.createMdev(PF, Q1, uuid(1));
    assertThrows(VgpuException.class, () -> vgpu.createMdev(OTHER_PF, Q4, uuid(1)));
  }

  @Test
  void kernel_malformedUuidIsEinvalAndADuplicateEexist() {
    assertEquals("Invalid argument", errno(() -> sysfs.write(TYPES + "nvidia-230/create",
        "not-a-uuid")));
    sysfs.write(TYPES + "nvidia-230/create", uuid(1) + "\n");
    assertEquals("File exists", errno(() -> sysfs.write(TYPES + "nvidia-230/create",
        uuid(1).toString())));
  }

  @Test
  void kernel_removeZeroDoesNothingAndGarbageIsEinval() {
    vgpu.createMdev(PF, Q1, uuid(1));
    String remove = "/sys/bus/mdev/devices/" + uuid(1) + "/remove";
    sysfs.write(remove, "0");
    assertEquals("Invalid argument", errno(() -> sysfs.write(remove, "yes")));
    assertEquals(Optional.of(230), vgpu.mdevType(uuid(1)));
  }

  @Test
  void kernel_unbindingTheGpuWithMediatedDevicesIsBusy() {
    vgpu.createMdev(PF, Q1, uuid(1));
    assertEquals("Device or resource busy",
        errno(() -> sysfs.write("/sys/bus/pci/drivers/nvidia/unbind", PF.toString())));
  }

  @Test
  void removeMdev_removesItAndRestoresEveryTypesInstances() throws IOException {
    String before = hostSnapshot();
    vgpu.createMdev(PF, Q4, uuid(1));
    vgpu.removeMdev(uuid(1));
    vgpu.removeMdev(uuid(1));
    assertEquals(before, hostSnapshot());
  }

  @Test
  void removeMdev_retriesWhileBusyThenGivesUpNamingTheDevice() {
    vgpu.createMdev(PF, Q1, uuid(1));
    host.inject(Fault.writeFails("/sys/bus/mdev/devices/" + uuid(1) + "/remove").times(2));
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.removeMdev(uuid(1)));
    assertTrue(e.getMessage().contains(uuid(1).toString()) && e.getMessage().contains("2 attempts"),
        e.getMessage());
    vgpu.removeMdev(uuid(1));
    assertEquals(Optional.empty(), vgpu.mdevType(uuid(1)));
  }

  @Test
  void createMdev_failingWriteIsATypedErrorAndChangesNothing() throws IOException {
    String before = hostSnapshot();
    host.inject(Fault.writeFails(TYPES + "nvidia-230/create"));
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.createMdev(PF, Q1, uuid(1)));
    assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
    assertEquals(before, hostSnapshot());
  }

  @Test
  void createMdev_catalogueOfAnotherCardIsATypedErrorAndChangesNothing() throws IOException {
    String before = hostSnapshot();
    VgpuType l40s = VgpuTypeCatalogue.l40s().require("L40S-1Q");
    assertThrows(VgpuException.class, () -> vgpu.createMdev(PF, l40s, uuid(1)));
    VgpuType renamed = new VgpuType(230, "GRID T4-1Q-renamed", Q1.series(), 1024, 16, false);
    assertThrows(VgpuException.class, () -> vgpu.createMdev(PF, renamed, uuid(1)));
    assertEquals(before, hostSnapshot());
  }

  @Test
  void mdevTypes_malformedAvailableInstancesIsAnInvalidValue() throws IOException {
    Files.writeString(host.root().resolve("sys/bus/pci/devices/" + PF).toRealPath()
        .resolve("mdev_supported_types/nvidia-230/available_instances"), "many\n");
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> vgpu.mdevTypes(PF));
    assertTrue(e.getMessage().contains("nvidia-230/available_instances"), e.getMessage());
  }

  @Test
  void mdevTypes_onAGpuWithoutMdevIsATypedError() {
    try (SimulatedHost l40s = SimulatedHost.l40sVgpu()) {
      VgpuDevices other = VgpuDevices.on(l40s.sysfs(), new FakeSriovManage(l40s.sysfs()));
      VgpuException e = assertThrows(VgpuException.class,
          () -> other.mdevTypes(PciAddress.parse("0000:3d:00.0")));
      assertTrue(e.getMessage().contains("/sys/class/mdev_bus/0000:3d:00.0"), e.getMessage());
    }
  }

  @Test
  void enable_ofALegacyMdevGpuSaysToCreateMediatedDevices() {
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.enable(PF));
    assertTrue(e.getMessage().contains("legacy mdev"), e.getMessage());
  }
}
