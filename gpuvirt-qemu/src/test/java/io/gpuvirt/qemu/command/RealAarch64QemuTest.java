package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuFirmware;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.Tools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Debian's {@code qemu-system-aarch64} 7.2 (qemu-system-arm) with the Grace argv: the probed
 * binary's argv gets past option parsing and every device's properties and fails only at opening
 * the missing host device; argv built for QEMU 9.2 and 10.x carries the generic initiators, which
 * 7.2 refuses by their object type.
 */
final class RealAarch64QemuTest {
  static final String GI_REFUSAL =
      "Parameter 'qom-type' does not accept value 'acpi-generic-initiator'";

  private static QemuCapabilities probed() {
    return QemuProbe.probe(CommandRunner.system(), Tools.qemuAarch64());
  }

  private static QemuCommandBuilder builder(QemuCapabilities caps) {
    // TCG and -cpu max: this machine has no KVM for aarch64; every other choice is the builder's.
    QemuCommandBuilder b = QemuCommandBuilder.forQemu(caps).binary(Tools.qemuAarch64())
        .accelerator(Accelerator.TCG).cpuModel("max").memoryMiB(512).cpus(2)
        .extraArguments(List.of("-nodefaults", "-display", "none"));
    QemuFirmware.find(Sysfs.host(), Tools.qemuAarch64()).ifPresent(b::firmware);
    return b;
  }

  private static CommandResult run(List<String> argv) {
    return CommandRunner.system().run(Command.of(argv).withTimeout(Duration.ofSeconds(60)));
  }

  static Stream<Arguments> variants() {
    return Stream.of(
        Arguments.of("1 GB200", (UnaryOperator<QemuCommandBuilder>) b -> b
            .devices(Hosts.gb200Vm(1))),
        Arguments.of("2 GB200, guest SMMUv3", (UnaryOperator<QemuCommandBuilder>) b -> b
            .devices(Hosts.gb200Vm(2)).guestSmmu(true)),
        Arguments.of("4 GB200 + hotplug port", (UnaryOperator<QemuCommandBuilder>) b -> b
            .devices(Hosts.gb200Vm(4)).hotplugPorts(1)));
  }

  @Test
  void probe_aarch64Binary_readsItsArchitectureMachineAndExpanderBus() {
    QemuCapabilities caps = probed();
    assertEquals(List.of(CpuArchitecture.AARCH64, true, true, true, false),
        List.of(caps.architecture(), caps.hasMachine("virt"), caps.hasDevice("pxb-pcie"),
            caps.hasDevice("max-arm-cpu"), caps.objectTypes().orElseThrow()
                .contains("acpi-generic-initiator")));
  }

  @Test
  void firmware_forTheAarch64Binary_isAavmf() {
    Tools.qemuAarch64();
    QemuFirmware fw = QemuFirmware.find(Sysfs.host(), Tools.QEMU_AARCH64).orElseThrow(
        () -> new AssertionError("no AAVMF descriptor; install qemu-efi-aarch64"));
    assertTrue(fw.code().startsWith("/usr/share/AAVMF/"), fw.code());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void probedArgv_failsOnlyAtTheFirstHostDevice(String name,
      UnaryOperator<QemuCommandBuilder> variant) {
    QemuArgs args = variant.apply(builder(probed())).build();
    CommandResult r = run(args.argv());
    RealQemuAcceptsArgsTest.assertHostDeviceFailure(r, args.devices().get(0), name);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void probedArgv_eachVfioDeviceFailsOnlyAtItsHostDevice(String name,
      UnaryOperator<QemuCommandBuilder> variant) {
    QemuArgs args = variant.apply(builder(probed())).build();
    for (PlacedDevice keep : args.devices()) {
      List<String> argv = new ArrayList<>();
      for (int i = 0; i < args.argv().size(); i++) {
        String a = args.argv().get(i);
        if (i + 1 < args.argv().size() && a.equals("-device")
            && args.argv().get(i + 1).startsWith("vfio-pci,")
            && !args.argv().get(i + 1).equals(keep.option().render())) {
          i++;
          continue;
        }
        argv.add(a);
      }
      RealQemuAcceptsArgsTest.assertHostDeviceFailure(run(argv), keep, name + ", " + keep.id());
    }
  }

  @ParameterizedTest(name = "QEMU {0}")
  @ValueSource(strings = {"9.2.0", "10.0.0", "10.1.0"})
  void argvForNewerQemu_carriesGenericInitiatorsAndIsRefusedBy72ByTheirType(String version) {
    Tools.qemuAarch64();
    QemuCapabilities newer = QemuCapabilities.assumed(QemuVersion.parse("QEMU emulator version "
        + version), CpuArchitecture.AARCH64);
    QemuArgs args = builder(newer).devices(Hosts.gb200Vm(1)).build();
    long initiators = args.argv().stream().filter(a -> a.startsWith("acpi-generic-initiator,"))
        .count();
    CommandResult r = run(args.argv());
    assertEquals(List.of(8L, true, true), List.of(initiators, r.exitCode() != 0,
        r.stderr().contains(GI_REFUSAL)), "stderr: " + r.stderr() + "\nargv: " + r.argv());
  }

  @Test
  void argvFor92_withoutTheInitiators_isAcceptedBy72UpToTheHostDevice() {
    // the rest of the 9.2 layout (memory-less -numa nodes, pxb numa_node) is 7.2-compatible
    Tools.qemuAarch64();
    QemuCapabilities newer = QemuCapabilities.assumed(QemuVersion.of(9, 2, 0),
        CpuArchitecture.AARCH64);
    QemuArgs args = builder(newer).devices(Hosts.gb200Vm(2)).build();
    List<String> argv = new ArrayList<>();
    for (int i = 0; i < args.argv().size(); i++) {
      if (args.argv().get(i).equals("-object") && i + 1 < args.argv().size()
          && args.argv().get(i + 1).startsWith("acpi-generic-initiator,")) {
        i++;
        continue;
      }
      argv.add(args.argv().get(i));
    }
    RealQemuAcceptsArgsTest.assertHostDeviceFailure(run(argv), args.devices().get(0),
        "9.2 layout without initiators");
  }
}
