package io.gpuvirt.qemu.qmp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuFirmware;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.command.Accelerator;
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
 * Boots the builder's aarch64 Grace layout (virt, AAVMF, a pxb-pcie and root port per GPU) under
 * TCG on Debian's qemu-system-aarch64 with emulated PCIe endpoints standing in for the GPUs, and
 * confirms through QMP {@code query-pci} that every stand-in sits behind its root port once the
 * firmware has numbered the buses.
 */
final class Aarch64BootTopologyTest {
  private static final Duration ENUMERATION = Duration.ofSeconds(120);
  private static QemuCapabilities caps;
  private static QemuFirmware firmware;

  @BeforeAll
  static void probe() {
    caps = QemuProbe.probe(CommandRunner.system(), Tools.qemuAarch64());
    firmware = QemuFirmware.find(Sysfs.host(), Tools.QEMU_AARCH64).orElseThrow(
        () -> new AssertionError("no AAVMF firmware descriptor; install qemu-efi-aarch64"));
  }

  @ParameterizedTest(name = "{0} GPUs")
  @ValueSource(ints = {1, 4})
  void gb200Layout_everyStandInBehindItsRootPort(int gpus, @TempDir Path dir) {
    QemuArgs args = QemuCommandBuilder.forQemu(caps).accelerator(Accelerator.TCG)
        .cpuModel("max").memoryMiB(512).cpus(1).firmware(firmware).devices(Hosts.gb200Vm(gpus))
        .extraArguments(List.of("-nodefaults", "-display", "none")).build();
    try (RunningQemu vm = RunningQemu.start(StandIns.argv(args), dir)) {
      TopologyReport report = PassthroughTopologyCheck.await(vm.qmp(), args, ENUMERATION);
      assertTrue(args.expanderBuses().size() == gpus && report.ok()
          && report.confirmed().size() == 2 * gpus, report + "\nstderr: " + vm.stderr());
    }
  }

  @Test
  void gb200LayoutFor92_withoutTheInitiators7_2Lacks_bootsWithTheGpusNumaNodes(
      @TempDir Path dir) {
    // the 9.2 layout: a CPU node, 8 CPU-less memory-less nodes per GPU, pxb numa_node=0; 7.2
    // cannot create the initiators themselves, so they are left out of this boot
    QemuCapabilities newer = QemuCapabilities.assumed(QemuVersion.of(9, 2, 0),
        CpuArchitecture.AARCH64);
    QemuArgs args = QemuCommandBuilder.forQemu(newer).binary(Tools.QEMU_AARCH64)
        .accelerator(Accelerator.TCG).cpuModel("max").memoryMiB(512).cpus(1).firmware(firmware)
        .devices(Hosts.gb200Vm(2)).extraArguments(List.of("-nodefaults", "-display", "none"))
        .build();
    List<String> argv = new ArrayList<>();
    List<String> standIns = StandIns.argv(args);
    for (int i = 0; i < standIns.size(); i++) {
      if (standIns.get(i).equals("-object") && i + 1 < standIns.size()
          && standIns.get(i + 1).startsWith("acpi-generic-initiator,")) {
        i++;
        continue;
      }
      argv.add(standIns.get(i));
    }
    try (RunningQemu vm = RunningQemu.start(argv, dir)) {
      TopologyReport report = PassthroughTopologyCheck.await(vm.qmp(), args, ENUMERATION);
      assertTrue(args.machine().gpuNodes().size() == 16 && report.ok()
          && report.confirmed().size() == 4, report + "\nstderr: " + vm.stderr());
    }
  }
}
