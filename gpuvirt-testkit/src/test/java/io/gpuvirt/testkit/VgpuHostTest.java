package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.doctor.Finding;
import io.gpuvirt.core.doctor.Severity;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.vgpu.CreatableVgpuTypes;
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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The L40S vGPU host: VFs appear only after {@code sriov-manage -e}, their {@code nvidia/} files
 * react like the vGPU driver, and {@link VgpuDevices} drives them through the seams.
 */
final class VgpuHostTest {
  private static final PciAddress PF = PciAddress.parse("0000:3d:00.0");
  private static final PciAddress OTHER_PF = PciAddress.parse("0000:bd:00.0");
  private static final VgpuTypeCatalogue L40S = VgpuTypeCatalogue.l40s();
  private static final VgpuType Q1 = L40S.require("L40S-1Q");
  private static final VgpuType B3 = L40S.require("2164");

  private SimulatedHost host;
  private Sysfs sysfs;
  private List<Command> commands;
  private VgpuDevices vgpu;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.l40sVgpu();
    sysfs = host.sysfs();
    commands = new ArrayList<>();
    FakeSriovManage fake = new FakeSriovManage(sysfs);
    vgpu = VgpuDevices.on(sysfs, recording(fake)).withRetry(3, Duration.ZERO);
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private CommandRunner recording(CommandRunner runner) {
    return c -> {
      commands.add(c);
      return runner.run(c);
    };
  }

  private static String nvidia(PciAddress vf, String file) {
    return "/sys/bus/pci/devices/" + vf + "/nvidia/" + file;
  }

  private String errno(Runnable write) {
    HostAccessException e = assertThrows(HostAccessException.class, write::run);
    return ((FileSystemException) e.getCause()).getReason();
  }

  private String hostSnapshot() throws IOException {
    StringBuilder b = new StringBuilder();
    try (var paths = Files.walk(host.root().resolve("sys/devices"))) {
      for (Path p : paths.sorted().toList()) {
        b.append(host.root().relativize(p)).append('\n');
        if (p.getFileName().toString().equals("current_vgpu_type")) {
          b.append(Files.readString(p));
        }
      }
    }
    return b.toString();
  }

  // ---- the simulated host -------------------------------------------------------------------

  @Test
  void boot_noVfsUntilSriovManage() {
    PciId l40s = new PciId(0x10de, 0x26b9);
    assertEquals(List.of(
            new VgpuCapability(PF, l40s, 0, VgpuInterface.VENDOR_SPECIFIC, 32, List.of()),
            new VgpuCapability(OTHER_PF, l40s, 1, VgpuInterface.VENDOR_SPECIFIC, 32, List.of())),
        vgpu.capabilities());
  }

  @Test
  void sriovManageEnable_createsVfsAtOffsetFourStrideOneLinkedBothWays() {
    new FakeSriovManage(sysfs).run(Command.of(VgpuDevices.SRIOV_MANAGE, "-e", PF.toString()));
    List<PciAddress> vfs = vgpu.virtualFunctions(PF);
    assertEquals(List.of(32, "0000:3d:00.4", "0000:3d:01.0", "0000:3d:04.3", PF),
        List.of(vfs.size(), vfs.get(0).toString(), vfs.get(4).toString(),
            vfs.get(31).toString(), vgpu.physicalFunction(vfs.get(31))));
  }

  @Test
  void sriovManageAll_enablesEveryGpu() {
    CommandResult r = new FakeSriovManage(sysfs)
        .run(Command.of(VgpuDevices.SRIOV_MANAGE, "-e", "ALL"));
    assertEquals(List.of(0, 32, 32), List.of(r.exitCode(), vgpu.virtualFunctions(PF).size(),
        vgpu.virtualFunctions(OTHER_PF).size()));
  }

  @Test
  void lspci_readsTheTreeWithVfsEnabled() {
    vgpu.enable(PF);
    String out = Tools.lspci(host, "-n", "-s", "3d:04.3");
    assertTrue(out.contains("3d:04.3") && out.contains("10de:26b9"), out);
  }

  @Test
  void creatable_beforeAnyTypeListsTheWholeCatalogueInTheDriversFormat() {
    PciAddress vf = vgpu.enable(PF).get(0);
    assertEquals("ID    : vGPU Name\n1145  : NVIDIA L40S-1B\n1146  : NVIDIA L40S-2B\n"
        + "1147  : NVIDIA L40S-1Q\n2164  : NVIDIA L40S-3B\n",
        sysfs.read(nvidia(vf, "creatable_vgpu_types")));
  }

  @Test
  void currentType_uncreatableIdIsRejectedWithEinval() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    assertEquals("Invalid argument",
        errno(() -> sysfs.write(nvidia(vfs.get(1), "current_vgpu_type"), "2164")));
  }

  @Test
  void currentType_secondTypeOnABusyVfIsRejectedWithEbusy() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    assertEquals("Device or resource busy",
        errno(() -> sysfs.write(nvidia(vfs.get(0), "current_vgpu_type"), "1147")));
  }

  @Test
  void sriovNumVfs_disableWhileAVfCarriesATypeIsBusy() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    assertEquals("Device or resource busy",
        errno(() -> sysfs.write("/sys/bus/pci/devices/" + PF + "/sriov_numvfs", "0")));
  }

  // ---- enablement ---------------------------------------------------------------------------

  @Test
  void enable_twiceRunsSriovManageOnce() {
    vgpu.enable(PF);
    vgpu.enable(PF);
    assertEquals(List.of(List.of(VgpuDevices.SRIOV_MANAGE, "-e", "0000:3d:00.0")),
        commands.stream().map(Command::argv).toList());
  }

  @Test
  void enable_pfOnVfioPciIsRefusedWithoutRunningAnything() {
    sysfs.write("/sys/bus/pci/devices/" + PF + "/driver_override", "vfio-pci");
    sysfs.write("/sys/bus/pci/devices/" + PF + "/driver/unbind", PF.toString());
    sysfs.write("/sys/bus/pci/drivers_probe", PF.toString());
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.enable(PF));
    assertEquals(List.of(true, List.of()), List.of(e.getMessage().contains("passed through whole"),
        commands));
  }

  @Test
  void enable_failingSriovManageNamesTheCommandAndChangesNothing() {
    VgpuDevices broken = VgpuDevices.on(sysfs,
        new FakeSriovManage(sysfs).failing("nvidia-vgpu-mgr is not running\n"));
    VgpuException e = assertThrows(VgpuException.class, () -> broken.enable(PF));
    assertEquals(List.of(true, List.of()), List.of(
        e.getMessage().contains("sriov-manage -e 0000:3d:00.0' failed (exit 1)"),
        vgpu.virtualFunctions(PF)));
  }

  @Test
  void disable_afterEnable_removesTheVfs() {
    vgpu.enable(PF);
    vgpu.disable(PF);
    assertEquals(List.of(), vgpu.virtualFunctions(PF));
  }

  @Test
  void disable_whileAVfCarriesATypeIsRefusedNamingTheCommand() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.disable(PF));
    assertEquals(List.of(true, vfs), List.of(
        e.getMessage().contains("sriov-manage -d 0000:3d:00.0' failed"),
        vgpu.virtualFunctions(PF)));
  }

  @Test
  void enable_vfWithoutNvidiaDirectoryIsATypedError() throws IOException {
    List<PciAddress> vfs = vgpu.enable(PF);
    Path dir = host.root().resolve(sysfs.canonicalPath("/sys/bus/pci/devices/" + vfs.get(7))
        .substring(1)).resolve("nvidia");
    for (String f : List.of("creatable_vgpu_types", "current_vgpu_type")) {
      Files.delete(dir.resolve(f));
    }
    Files.delete(dir);
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.enable(PF));
    assertTrue(e.getMessage().contains("VF 0000:3d:01.3 of 0000:3d:00.0 has no nvidia/"),
        e.getMessage());
  }

  @Test
  void requirePassthroughAllowed_pfWithVfsIsRefused() {
    vgpu.requirePassthroughAllowed(PF);
    vgpu.enable(PF);
    VgpuException e = assertThrows(VgpuException.class,
        () -> vgpu.requirePassthroughAllowed(PF));
    assertTrue(e.getMessage().contains("32 SR-IOV VFs are enabled"), e.getMessage());
  }

  @Test
  void readiness_beforeEnablementWarnsThatVfsMustBeEnabledAfterEveryRebootAndGivesTheUnit() {
    Finding f = vgpu.readiness().get(0);
    assertEquals(List.of(Severity.WARNING, true, Optional.of(VgpuDevices.BOOT_UNIT_FILE),
            VgpuDevices.BOOT_UNIT),
        List.of(f.severity(), f.summary().contains("after every reboot"),
            f.fix().orElseThrow().file(), f.fix().orElseThrow().content()));
  }

  @Test
  void readiness_afterEnablementIsOkForThatGpu() {
    vgpu.enable(PF);
    assertEquals(List.of(Severity.OK, Severity.WARNING),
        vgpu.readiness().stream().map(Finding::severity).toList());
  }

  @Test
  void bootUnit_runsSriovManageForAllGpus() {
    assertTrue(VgpuDevices.BOOT_UNIT.contains("ExecStart=/usr/lib/nvidia/sriov-manage -e ALL\n")
        && VgpuDevices.BOOT_UNIT.contains("WantedBy=multi-user.target"));
  }

  // ---- activation ---------------------------------------------------------------------------

  @Test
  void activate_setsTheTypeAndSiblingsListOnlyThatType() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    assertEquals(List.of(1147, List.of(new CreatableVgpuTypes.Entry(1147, "NVIDIA L40S-1Q")),
            List.of()),
        List.of(vgpu.currentType(vfs.get(0)), vgpu.creatable(vfs.get(1)),
            vgpu.creatable(vfs.get(0))));
  }

  @Test
  void activate_untilFull_thenRefusalSaysTheGpuIsFull() {
    List<PciAddress> vfs = vgpu.enable(PF);
    for (int i = 0; i < B3.maxInstances(); i++) {
      vgpu.activate(vfs.get(i), B3);
    }
    VgpuFullException e = assertThrows(VgpuFullException.class,
        () -> vgpu.activate(vfs.get(B3.maxInstances()), B3));
    assertEquals(List.of(true, "ID    : vGPU Name\n"), List.of(
        e.getMessage().contains("GPU 0000:3d:00.0 is full"),
        sysfs.read(nvidia(vfs.get(31), "creatable_vgpu_types"))));
  }

  @Test
  void activate_otherTypeOnAnOccupiedGpuIsRefusedAndChangesNothing() throws IOException {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    String before = hostSnapshot();
    VgpuFullException e = assertThrows(VgpuFullException.class,
        () -> vgpu.activate(vfs.get(1), B3));
    assertEquals(List.of(true, before), List.of(
        e.getMessage().contains("creatable: [1147 (NVIDIA L40S-1Q)]"), hostSnapshot()));
  }

  @Test
  void activate_sameTypeTwiceWritesOnce() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    long writes = host.writeCount();
    vgpu.activate(vfs.get(0), Q1);
    assertEquals(writes, host.writeCount());
  }

  @Test
  void activate_anotherTypeSetIsClearedFirst() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    vgpu.activate(vfs.get(0), B3);
    assertEquals(2164, vgpu.currentType(vfs.get(0)));
  }

  @Test
  void activate_catalogueOfAnotherCardIsATypedErrorAndChangesNothing() throws IOException {
    List<PciAddress> vfs = vgpu.enable(PF);
    VgpuType wrongName = VgpuType.timeSliced(1147, "NVIDIA A10-1Q", 1024, 24);
    String before = hostSnapshot();
    VgpuException e = assertThrows(VgpuException.class,
        () -> vgpu.activate(vfs.get(0), wrongName));
    assertEquals(List.of(true, before), List.of(e.getMessage().contains("catalogue"),
        hostSnapshot()));
  }

  @Test
  void activate_failingWriteIsATypedErrorNamingTheErrno() {
    List<PciAddress> vfs = vgpu.enable(PF);
    host.inject(Fault.writeFails(nvidia(vfs.get(0), "current_vgpu_type")));
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.activate(vfs.get(0), Q1));
    assertEquals(List.of(true, 0), List.of(e.getMessage().contains("Input/output error"),
        vgpu.currentType(vfs.get(0))));
  }

  @Test
  void activate_onThePfIsATypedError() {
    vgpu.enable(PF);
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.activate(PF, Q1));
    assertTrue(e.getMessage().contains("no nvidia/ directory"), e.getMessage());
  }

  @Test
  void creatable_malformedFileIsAnInvalidValue() throws IOException {
    List<PciAddress> vfs = vgpu.enable(PF);
    Path file = host.root().resolve(sysfs.canonicalPath(nvidia(vfs.get(0),
        "creatable_vgpu_types")).substring(1));
    Files.writeString(file, "ID    : vGPU Name\nfoo : NVIDIA L40S-1Q\n");
    assertThrows(InvalidValueException.class, () -> vgpu.activate(vfs.get(0), Q1));
  }

  // ---- deactivation -------------------------------------------------------------------------

  @Test
  void deactivate_retriesWhileBusyThenSucceeds() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    host.inject(Fault.writeFails(nvidia(vfs.get(0), "current_vgpu_type")));
    vgpu.deactivate(vfs.get(0));
    assertEquals(0, vgpu.currentType(vfs.get(0)));
  }

  @Test
  void deactivate_alwaysFailingGivesUpAfterTheBoundedAttempts() {
    List<PciAddress> vfs = vgpu.enable(PF);
    vgpu.activate(vfs.get(0), Q1);
    for (int i = 0; i < 3; i++) {
      host.inject(Fault.writeFails(nvidia(vfs.get(0), "current_vgpu_type")));
    }
    VgpuException e = assertThrows(VgpuException.class, () -> vgpu.deactivate(vfs.get(0)));
    assertTrue(e.getMessage().contains("after 3 attempts"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 42, 20261203})
  void fillThenTeardownInRandomOrder_everyVfBackToTypeZero(long seed) {
    Random random = new Random(seed);
    List<PciAddress> vfs = vgpu.enable(PF);
    VgpuType type = L40S.types().get(random.nextInt(L40S.types().size()));
    List<PciAddress> used = new ArrayList<>();
    for (PciAddress vf : vfs) {
      try {
        vgpu.activate(vf, type);
        used.add(vf);
      } catch (VgpuFullException full) {
        break;
      }
    }
    Collections.shuffle(used, random);
    used.forEach(vgpu::deactivate);
    AtomicInteger carrying = new AtomicInteger();
    vfs.forEach(vf -> carrying.addAndGet(vgpu.currentType(vf) == 0 ? 0 : 1));
    assertEquals(List.of(type.maxInstances(), 0, L40S.types().size()),
        List.of(used.size(), carrying.get(), vgpu.creatable(vfs.get(0)).size()),
        "seed " + seed + ", type " + type.name());
  }
}
