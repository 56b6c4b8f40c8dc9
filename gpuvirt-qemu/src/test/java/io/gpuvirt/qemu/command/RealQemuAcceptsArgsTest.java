package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.Tools;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Runs the installed QEMU with the full generated argv: it must get past option parsing and
 * property setting of every device, and fail only at opening the host devices, which this machine
 * does not have. QEMU creates devices in order and stops at the first failure, so each vfio-pci
 * device is also tried alone (the others left out) to have its own properties checked; the root
 * ports come before every vfio-pci device and are checked in every run.
 */
final class RealQemuAcceptsArgsTest {
  private static final List<String> PARSE_ERRORS = List.of("Property '", "Invalid parameter",
      "expects", "Parameter '", "not found", "Unsupported", "invalid", "Invalid",
      "can't apply global", "must be");

  static Stream<Arguments> variants() {
    LargeBarPolicy romOff = LargeBarPolicy.defaults().toBuilder().romBarOff(true).build();
    LargeBarPolicy always = LargeBarPolicy.defaults().toBuilder()
        .noMmap(LargeBarPolicy.NoMmapMode.ALWAYS).build();
    return Stream.of(
        Arguments.of("1 B200", (UnaryOperator<QemuCommandBuilder>) b -> b.devices(Hosts.b200Vm(1))),
        Arguments.of("2 B200", (UnaryOperator<QemuCommandBuilder>) b -> b.devices(Hosts.b200Vm(2))),
        Arguments.of("4 B200 clique, rombar=0", (UnaryOperator<QemuCommandBuilder>) b -> b
            .devices(PassthroughDevices.builder().addAll(Hosts.b200Vm(4).units())
                .gpudirectClique(2).build()).largeBarPolicy(romOff)),
        Arguments.of("8 B200 (x-no-mmap, aperture)",
            (UnaryOperator<QemuCommandBuilder>) b -> b.devices(Hosts.b200Vm(8))),
        Arguments.of("B200 full passthrough + hotplug port",
            (UnaryOperator<QemuCommandBuilder>) b -> b.devices(Hosts.b200FullPassthrough())
                .hotplugPorts(2)),
        Arguments.of("H100 full passthrough, packed ports, limit",
            (UnaryOperator<QemuCommandBuilder>) b -> b.devices(Hosts.h100FullPassthrough())
                .physBits(PhysBits.hostLimitedTo(46))),
        Arguments.of("consumer GPU + audio, fixed phys-bits, always x-no-mmap",
            (UnaryOperator<QemuCommandBuilder>) b -> b
                .devices(PassthroughDevices.of(List.of(Hosts.consumerGpuWithAudio())))
                .physBits(PhysBits.fixed(40)).largeBarPolicy(always)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void fullArgv_failsOnlyAtTheFirstHostDevice(String name,
      UnaryOperator<QemuCommandBuilder> variant) {
    QemuArgs args = build(variant);
    CommandResult r = run(args.argv());
    assertHostDeviceFailure(r, args.devices().get(0), name);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void eachVfioDevice_failsOnlyAtItsHostDevice(String name,
      UnaryOperator<QemuCommandBuilder> variant) {
    QemuArgs args = build(variant);
    for (PlacedDevice keep : args.devices()) {
      List<String> argv = new ArrayList<>();
      for (int i = 0; i < args.argv().size(); i++) {
        String a = args.argv().get(i);
        boolean otherVfio = i + 1 < args.argv().size() && a.equals("-device")
            && args.argv().get(i + 1).startsWith("vfio-pci,")
            && !args.argv().get(i + 1).equals(keep.option().render());
        if (otherVfio) {
          i++;
          continue;
        }
        argv.add(a);
      }
      assertHostDeviceFailure(run(argv), keep, name + ", " + keep.id());
    }
  }

  private static QemuArgs build(UnaryOperator<QemuCommandBuilder> variant) {
    QemuCapabilities caps = QemuProbe.probe(CommandRunner.system(), Tools.qemu());
    // TCG and -cpu max: this machine has no usable KVM; every other choice is the builder's.
    QemuCommandBuilder b = QemuCommandBuilder.forQemu(caps).accelerator(Accelerator.TCG)
        .cpuModel("max").memoryMiB(256)
        .extraArguments(List.of("-nodefaults", "-display", "none"));
    return variant.apply(b).build();
  }

  private static CommandResult run(List<String> argv) {
    return CommandRunner.system().run(Command.of(argv).withTimeout(Duration.ofSeconds(30)));
  }

  /**
   * That QEMU parsed the whole command and stopped only at opening the (absent) host device
   * {@code expected}; shared by the aarch64 test.
   */
  static void assertHostDeviceFailure(CommandResult r, PlacedDevice expected,
      String name) {
    String err = r.stderr();
    boolean hostFailure = (err.contains("no such host device")
        || err.contains("failed to open /sys/bus/pci/devices/"))
        && err.contains(expected.host().toString());
    boolean parseError = PARSE_ERRORS.stream().anyMatch(err::contains);
    assertTrue(r.exitCode() != 0 && hostFailure && !parseError, name + ": exit " + r.exitCode()
        + ", stderr: " + err + "\nargv: " + r.argv());
  }
}
