package io.gpuvirt.qemu.qmp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.qemu.command.PassthroughDevices;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RecordedQemu;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** The check on hand-written {@code query-pci} results. */
final class PassthroughTopologyCheckTest {
  private static final QemuArgs ONE_GPU = args(Hosts.b200Vm(1));
  private static final QemuArgs GPU_WITH_AUDIO = args(PassthroughDevices.of(
      List.of(Hosts.consumerGpuWithAudio())));

  private static QemuArgs args(PassthroughDevices devices) {
    return QemuCommandBuilder.forQemu(RecordedQemu.capabilities()).memoryMiB(4096)
        .devices(devices).build();
  }

  private static QmpPciDevice endpoint(int bus, int fn, String id) {
    return new QmpPciDevice(bus, 0, fn, new PciClass(0x030200), new PciId(0x10de, 0x2901), id,
        OptionalInt.empty(), List.of(), List.of());
  }

  private static QmpPciDevice port(String id, int slot, int secondary, QmpPciDevice... behind) {
    return new QmpPciDevice(0, slot, 0, new PciClass(0x060400), new PciId(0x1b36, 0x000c), id,
        OptionalInt.of(secondary), List.of(behind), List.of());
  }

  @Test
  void check_deviceBehindItsPortIsConfirmed() {
    TopologyReport r = PassthroughTopologyCheck.check(ONE_GPU,
        List.of(port("rp0", 0x10, 1, endpoint(1, 0, "hostdev0"))));
    assertTrue(r.ok(), r.toString());
  }

  @Test
  void check_unnumberedPortIsAProblem() {
    TopologyReport r = PassthroughTopologyCheck.check(ONE_GPU, List.of(port("rp0", 0x10, 0)));
    assertTrue(r.problems().stream().anyMatch(p -> p.contains("has no bus number")), r.toString());
  }

  @Test
  void check_missingDeviceIsAProblem() {
    TopologyReport r = PassthroughTopologyCheck.check(ONE_GPU, List.of(port("rp0", 0x10, 1)));
    assertTrue(r.problems().stream().anyMatch(p -> p.startsWith("hostdev0 (host 0000:17:00.0)")),
        r.toString());
  }

  @Test
  void check_deviceBehindAnotherPortIsAProblem() {
    TopologyReport r = PassthroughTopologyCheck.check(ONE_GPU, List.of(port("rp0", 0x10, 1),
        port("other", 0x11, 2, endpoint(2, 0, "hostdev0"))));
    assertTrue(r.problems().stream().anyMatch(p -> p.contains("not behind its planned root port")),
        r.toString());
  }

  @Test
  void check_companionAtTheWrongFunctionIsAProblem() {
    TopologyReport r = PassthroughTopologyCheck.check(GPU_WITH_AUDIO, List.of(port("rp0", 0x10,
        1, endpoint(1, 0, "hostdev0"), endpoint(1, 2, "hostdev0.1"))));
    assertTrue(r.problems().stream().anyMatch(p -> p.contains("planned as function 1")),
        r.toString());
  }
}
