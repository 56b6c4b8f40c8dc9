package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RecordedQemu;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The example of the package documentation, on a recorded QEMU and a fixture host. */
final class UsageExampleTest {

  @Test
  void packageExample_buildsAFourGpuVm() {
    Topology host = new Topology("fixture", Hosts.b200s(8), List.of());
    CommandRunner runner = RecordedQemu.runner();

    PassthroughDevices.Builder vm = PassthroughDevices.builder().gpudirectClique(0);
    for (String bdf : List.of("0000:17:00.0", "0000:3d:00.0", "0000:60:00.0", "0000:70:00.0")) {
      vm.add(PassthroughUnit.gpu(host.device(PciAddress.parse(bdf)).orElseThrow()));
    }
    QemuCapabilities caps = QemuProbe.probe(runner, "qemu-system-x86_64");
    QemuArgs args = QemuCommandBuilder.forQemu(caps)
        .memoryMiB(1024 * 1024)
        .devices(vm.build())
        .extraArguments(List.of("-smp", "64", "-display", "none",
            "-qmp", "unix:/run/gpuvirt/vm-42.qmp,server=on,wait=off"))
        .build();

    assertEquals(4, args.devices().size());
  }
}
