package io.gpuvirt.qemu.qmp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.command.Accelerator;
import io.gpuvirt.qemu.command.PassthroughDevices;
import io.gpuvirt.qemu.command.PlacedDevice;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RunningQemu;
import io.gpuvirt.qemu.testing.StandIns;
import io.gpuvirt.qemu.testing.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Boots the builder's machine and root-port layout under TCG with emulated PCIe endpoints
 * standing in for the GPUs, and confirms through QMP {@code query-pci} that every device sits
 * behind its root port once SeaBIOS has numbered the buses.
 */
final class BootTopologyTest {
  private static final Duration ENUMERATION = Duration.ofSeconds(60);
  private static QemuCapabilities caps;

  @BeforeAll
  static void probe() {
    caps = QemuProbe.probe(CommandRunner.system(), Tools.qemu());
  }

  private static QemuArgs args(PassthroughDevices devices, int hotplugPorts) {
    return QemuCommandBuilder.forQemu(caps).accelerator(Accelerator.TCG).cpuModel("max")
        .memoryMiB(256).devices(devices).hotplugPorts(hotplugPorts)
        .extraArguments(List.of("-nodefaults", "-display", "none")).build();
  }

  @ParameterizedTest(name = "{0} GPUs")
  @ValueSource(ints = {1, 2, 4, 8})
  void b200Layout_everyDeviceBehindItsRootPort(int gpus, @TempDir Path dir) {
    QemuArgs args = args(Hosts.b200Vm(gpus), 0);
    try (RunningQemu vm = RunningQemu.start(StandIns.argv(args), dir)) {
      TopologyReport report = PassthroughTopologyCheck.await(vm.qmp(), args, ENUMERATION);
      assertTrue(report.ok() && report.confirmed().size() == 2 * gpus, report + "\nstderr: "
          + vm.stderr());
    }
  }

  @Test
  void numaPlacement_eightB200_everyDeviceBehindItsRootPortOnItsNodesExpanderBus(
      @TempDir Path dir) {
    QemuArgs args = QemuCommandBuilder.forQemu(caps).accelerator(Accelerator.TCG).cpuModel("max")
        .memoryMiB(256).devices(Hosts.b200Vm(8)).numaPlacement(true)
        .extraArguments(List.of("-nodefaults", "-display", "none")).build();
    try (RunningQemu vm = RunningQemu.start(StandIns.argv(args), dir)) {
      TopologyReport report = PassthroughTopologyCheck.await(vm.qmp(), args, ENUMERATION);
      assertTrue(args.expanderBuses().size() == 2 && report.ok()
          && report.confirmed().size() == 16, report + "\nstderr: " + vm.stderr());
    }
  }

  @Test
  void fullPassthroughWithHotplugPorts_everyFunctionAtItsPlace(@TempDir Path dir) {
    QemuArgs args = args(Hosts.b200FullPassthrough(), 2);
    try (RunningQemu vm = RunningQemu.start(StandIns.argv(args), dir)) {
      TopologyReport report = PassthroughTopologyCheck.await(vm.qmp(), args, ENUMERATION);
      assertTrue(report.ok(), report + "\nstderr: " + vm.stderr());
    }
  }

  @Test
  void packedPortsOfH100FullPassthrough_everyDeviceBehindItsRootPort(@TempDir Path dir) {
    QemuArgs args = args(Hosts.h100FullPassthrough(), 0);
    try (RunningQemu vm = RunningQemu.start(StandIns.argv(args), dir)) {
      TopologyReport report = PassthroughTopologyCheck.await(vm.qmp(), args, ENUMERATION);
      assertTrue(report.ok(), report + "\nstderr: " + vm.stderr());
    }
  }

  @Test
  void flatLayout_isReportedAsOnTheRootComplex(@TempDir Path dir) {
    QemuArgs args = args(Hosts.b200Vm(1), 0);
    PlacedDevice gpu = args.devices().get(0);
    List<String> flat = new ArrayList<>();
    for (String a : StandIns.argv(args)) {
      flat.add(a.equals(StandIns.standIn(gpu).render())
          ? StandIns.standIn(gpu).without("bus").without("addr").with("bus", "pcie.0")
              .with("addr", "0x4").render()
          : a);
    }
    try (RunningQemu vm = RunningQemu.start(flat, dir)) {
      TopologyReport report = PassthroughTopologyCheck.await(vm.qmp(), args, Duration.ofSeconds(2));
      assertTrue(report.problems().stream().anyMatch(p -> p.contains("sits on the root complex")),
          report.toString());
    }
  }
}
