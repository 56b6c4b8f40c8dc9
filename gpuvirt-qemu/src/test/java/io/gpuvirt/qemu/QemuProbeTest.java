package io.gpuvirt.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.qemu.testing.RecordedQemu;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class QemuProbeTest {

  @Test
  void probe_readsTheVersion() {
    assertEquals(new QemuVersion(7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18+b3"),
        RecordedQemu.capabilities().version());
  }

  @Test
  void probe_readsMachinesWithAliases() {
    QemuCapabilities caps = RecordedQemu.capabilities();
    assertTrue(caps.hasMachine("q35") && caps.hasMachine("pc-q35-7.2") && caps.hasMachine("pc"),
        caps.machines().toString());
  }

  @Test
  void probe_readsAccelerators() {
    assertEquals(java.util.Set.of("tcg", "kvm"), RecordedQemu.capabilities().accelerators());
  }

  @Test
  void probe_readsVfioProperties() {
    QemuCapabilities caps = RecordedQemu.capabilities();
    assertTrue(caps.hasProperty("vfio-pci", "x-no-mmap")
        && caps.hasProperty("vfio-pci", "x-nv-gpudirect-clique")
        && caps.hasProperty("vfio-pci", "rombar") && caps.hasProperty("vfio-pci", "host"));
  }

  @Test
  void probe_readsRootPortProperties() {
    QemuCapabilities caps = RecordedQemu.capabilities();
    assertTrue(caps.hasProperty("pcie-root-port", "pref64-reserve")
        && caps.hasProperty("pcie-root-port", "hotplug")
        && caps.hasProperty("pcie-root-port", "chassis"));
  }

  @Test
  void probe_readsCpuProperties() {
    assertTrue(RecordedQemu.capabilities().hasProperty("host-x86_64-cpu",
        "host-phys-bits-limit"));
  }

  @Test
  void probe_unknownDeviceTypeIsAbsentNotAnError() {
    QemuCapabilities caps = QemuProbe.probe(RecordedQemu.runner(), "qemu-system-x86_64",
        List.of("EPYC-x86_64-cpu"));
    assertEquals(Optional.empty(), caps.deviceProperties("EPYC-x86_64-cpu"));
  }

  @Test
  void deviceProperties_unprobedTypeIsRefused() {
    QemuCapabilities caps = RecordedQemu.capabilities();
    assertThrows(InvalidValueException.class, () -> caps.deviceProperties("virtio-net-pci"));
  }

  @Test
  void hasProperty_unprobedTypeIsFalse() {
    assertFalse(RecordedQemu.capabilities().hasProperty("virtio-net-pci", "mac"));
  }

  @Test
  void parseDeviceProperties_readsThePre42Format() {
    String old = "vfio-pci.host=str (Address (bus/device/function) of the host device)\n"
        + "vfio-pci.x-no-mmap=bool\nvfio-pci.rombar=uint32\n";
    assertEquals(List.of("host", "x-no-mmap", "rombar"),
        QemuProbe.parseDeviceProperties("vfio-pci", old));
  }

  @Test
  void probe_failingVersionRunNamesTheBinary() {
    CommandRunner broken = c -> new CommandResult(c.argv(), 127, "", "not found",
        Duration.ZERO, false);
    QemuException e = assertThrows(QemuException.class,
        () -> QemuProbe.probe(broken, "/opt/qemu/bin/qemu-system-x86_64"));
    assertTrue(e.getMessage().contains("/opt/qemu/bin/qemu-system-x86_64 --version exited 127"),
        e.getMessage());
  }

  @Test
  void probe_garbageVersionIsRefused() {
    CommandRunner liar = c -> new CommandResult(c.argv(), 0, "Python 3.11.2\n", "",
        Duration.ZERO, false);
    QemuException e = assertThrows(QemuException.class, () -> QemuProbe.probe(liar, "qemu"));
    assertTrue(e.getMessage().contains("Python 3.11.2"), e.getMessage());
  }

  @Test
  void probe_garbageDeviceHelpIsRefused() {
    CommandRunner recorded = RecordedQemu.runner();
    CommandRunner odd = c -> c.argv().contains("vfio-pci,help")
        ? new CommandResult(c.argv(), 0, "something else\n", "", Duration.ZERO, false)
        : recorded.run(c);
    QemuException e = assertThrows(QemuException.class, () -> QemuProbe.probe(odd, "qemu"));
    assertTrue(e.getMessage().contains("-device vfio-pci,help"), e.getMessage());
  }

  @Test
  void parseMachines_missingHeaderIsRefused() {
    assertThrows(QemuException.class, () -> QemuProbe.parseMachines("qemu", "q35 foo\n"));
  }
}
