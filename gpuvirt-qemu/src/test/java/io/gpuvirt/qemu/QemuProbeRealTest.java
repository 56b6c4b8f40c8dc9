package io.gpuvirt.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.qemu.testing.Tools;
import org.junit.jupiter.api.Test;

/** Probes the installed QEMU. */
final class QemuProbeRealTest {

  @Test
  void probe_versionMatchesVersionOutput() {
    String qemu = Tools.qemu();
    CommandRunner runner = CommandRunner.system();
    String out = runner.run(Command.of(qemu, "--version")).stdout();
    assertEquals(QemuVersion.parse(out), QemuProbe.probe(runner, qemu).version());
  }

  @Test
  void probe_findsWhatTheBuilderNeeds() {
    QemuCapabilities caps = QemuProbe.probe(CommandRunner.system(), Tools.qemu());
    assertTrue(caps.hasMachine("q35") && caps.hasAccelerator("tcg")
        && caps.hasProperty("vfio-pci", "x-no-mmap")
        && caps.hasProperty("pcie-root-port", "chassis")
        && caps.hasProperty("max-x86_64-cpu", "host-phys-bits"), caps.toString());
  }
}
