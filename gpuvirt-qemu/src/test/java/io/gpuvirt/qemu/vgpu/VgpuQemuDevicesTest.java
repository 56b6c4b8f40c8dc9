package io.gpuvirt.qemu.vgpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import io.gpuvirt.qemu.testing.Tools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

final class VgpuQemuDevicesTest {
  private static final PciAddress PF = PciAddress.parse("0000:3d:00.0");
  private static final VgpuType Q1 = VgpuTypeCatalogue.l40s().require("L40S-1Q");
  private static final UUID MDEV = UUID.fromString("e4042b96-e63d-56cf-bcc8-4e6eecccc12e");
  private static final VgpuAssignment ON_VF =
      VgpuAssignment.onVf(PF, PciAddress.parse("0000:3d:00.4"), Q1);
  private static final VgpuAssignment ON_MDEV = VgpuAssignment.onMdev(PF, MDEV, Q1);
  private static final List<String> PARSE_ERRORS = List.of("Property '", "Invalid parameter",
      "expects", "Parameter '", "Unsupported", "can't apply global", "must be");

  @Test
  void plan_vfIsVfioPciHostBehindItsOwnRootPort() {
    assertEquals(List.of("-device",
        "pcie-root-port,id=vgpurp0,bus=pcie.0,addr=0x18.0,chassis=64,slot=64",
        "-device", "vfio-pci,host=0000:3d:00.4,id=vgpu0,bus=vgpurp0"),
        VgpuQemuDevices.plan(List.of(ON_VF)).argv());
  }

  @Test
  void plan_mdevIsVfioPciSysfsdevWithTheVmUuid() {
    List<String> argv = VgpuQemuDevices.plan(List.of(ON_MDEV)).argv();
    assertEquals(List.of("-device",
        "vfio-pci,sysfsdev=/sys/bus/mdev/devices/e4042b96-e63d-56cf-bcc8-4e6eecccc12e,id=vgpu0,"
            + "bus=vgpurp0", "-uuid", MDEV.toString()), argv.subList(2, argv.size()));
  }

  @Test
  void plan_explainsEachDevice() {
    VgpuQemuDevices.Plan plan = VgpuQemuDevices.plan(List.of(ON_VF, ON_MDEV));
    assertTrue(plan.devices().get(0).explanation().contains("stays on the NVIDIA vGPU host driver")
        && plan.devices().get(1).explanation().contains("-uuid is this mdev's"));
  }

  @Test
  void plan_moreVgpusThanSlotsIsRefused() {
    List<VgpuAssignment> many = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      many.add(VgpuAssignment.onVf(PF, new PciAddress(0, 0x3d, 1 + i / 8, i % 8), Q1));
    }
    assertThrows(InvalidValueException.class, () -> VgpuQemuDevices.plan(many));
  }

  private static CommandResult runQemu(List<String> vgpuArgs) {
    List<String> argv = new ArrayList<>(List.of(Tools.qemu(), "-machine", "q35", "-accel", "tcg",
        "-cpu", "max", "-m", "256", "-nodefaults", "-display", "none"));
    argv.addAll(vgpuArgs);
    return CommandRunner.system().run(Command.of(argv).withTimeout(Duration.ofSeconds(30)));
  }

  private static void assertFailsOnlyAtTheHostDevice(CommandResult r, String device) {
    String err = r.stderr();
    boolean parseError = PARSE_ERRORS.stream().anyMatch(err::contains);
    boolean hostFailure = err.contains("vfio ") && err.contains(device)
        && err.contains("no such host device");
    assertTrue(r.exitCode() != 0 && hostFailure && !parseError,
        "exit " + r.exitCode() + ", stderr: " + err + "\nargv: " + r.argv());
  }

  @Test
  void realQemu_acceptsTheVfArgvUpToOpeningTheHostDevice() {
    assertFailsOnlyAtTheHostDevice(runQemu(VgpuQemuDevices.plan(List.of(ON_VF)).argv()),
        "0000:3d:00.4");
  }

  @Test
  void realQemu_acceptsTheMdevArgvUpToOpeningTheHostDevice() {
    assertFailsOnlyAtTheHostDevice(runQemu(VgpuQemuDevices.plan(List.of(ON_MDEV)).argv()),
        MDEV.toString());
  }
}
