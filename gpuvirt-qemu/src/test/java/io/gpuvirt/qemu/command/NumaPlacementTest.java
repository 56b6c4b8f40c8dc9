package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RecordedQemu;
import java.util.List;
import org.junit.jupiter.api.Test;

/** NUMA placement: a guest NUMA node and a pxb-pcie per host node of the VM's GPUs. */
final class NumaPlacementTest {
  private static QemuCommandBuilder builder(PassthroughDevices devices) {
    return QemuCommandBuilder.forQemu(RecordedQemu.capabilities()).memoryMiB(64 * 1024)
        .cpus(8).devices(devices);
  }

  @Test
  void build_byDefault_everyRootPortOnPcie0AndOneGuestNode() {
    QemuArgs args = builder(Hosts.b200Vm(8)).build();

    assertTrue(args.expanderBuses().isEmpty() && args.machine().numaNodes().isEmpty()
        && args.rootPorts().stream().allMatch(p -> p.bus().equals("pcie.0"))
        && !args.argv().contains("-numa"), args.argv().toString());
  }

  @Test
  void build_eightB200OnTwoNodes_eachNodesPortsOnItsExpanderBus() {
    QemuArgs args = builder(Hosts.b200Vm(8)).numaPlacement(true).build();

    assertEquals(List.of("pxb0", "pxb0", "pxb0", "pxb0", "pxb1", "pxb1", "pxb1", "pxb1"),
        args.rootPorts().stream().map(RootPort::bus).toList());
    assertEquals(List.of(0, 1), args.expanderBuses().stream().map(ExpanderBus::hostNode)
        .toList());
  }

  @Test
  void build_eightB200OnTwoNodes_splitsCpusAndMemoryOverTheGuestNodes() {
    String argv = String.join(" ", builder(Hosts.b200Vm(8)).numaPlacement(true).build().argv());

    assertTrue(argv.contains("-object memory-backend-ram,id=ram-node0,size=32768M -numa"
        + " node,nodeid=0,cpus=0-3,memdev=ram-node0")
        && argv.contains("-numa node,nodeid=1,cpus=4-7,memdev=ram-node1")
        && argv.contains("-device pxb-pcie,id=pxb1,bus_nr=64,numa_node=1,bus=pcie.0,addr=0x11.0")
        && argv.indexOf("pxb-pcie,id=pxb0") < argv.indexOf("pcie-root-port,id=rp0"), argv);
  }

  @Test
  void plan_numaPlacement_namesTheHostNodeAndItsDevices() {
    QemuArgs args = builder(Hosts.b200Vm(8)).numaPlacement(true).build();

    assertTrue(args.plan(Decision.Topic.NUMA).stream().anyMatch(d -> d.subject().equals("pxb1")
        && d.reason().contains("host node 1 holds 0000:98:00.0")), args.describe().toString());
  }

  @Test
  void build_fewerCpusThanNodes_isRefused() {
    QemuArgsException e = assertThrows(QemuArgsException.class,
        () -> builder(Hosts.b200Vm(8)).cpus(1).numaPlacement(true).build());
    assertTrue(e.getMessage().contains("at least 2 CPUs"), e.getMessage());
  }

  @Test
  void build_allDevicesOnOneNode_staysFlatAndSaysWhy() {
    QemuArgs args = builder(Hosts.b200Vm(4)).numaPlacement(true).build();

    assertTrue(args.expanderBuses().isEmpty() && args.plan(Decision.Topic.NUMA).stream()
        .anyMatch(d -> d.reason().contains("every device is on host node 0")),
        args.describe().toString());
  }

  @Test
  void build_deviceWithoutANumaNode_staysFlatWithAWarning() {
    PciDevice unknown = PciDevice.builder(PciAddress.parse("0000:98:00.0"))
        .id(Hosts.b200("0000:98:00.0").id()).pciClass(Hosts.b200("0000:98:00.0").pciClass())
        .bars(Hosts.b200("0000:98:00.0").bars()).build();
    QemuArgs args = builder(PassthroughDevices.of(List.of(
        PassthroughUnit.gpu(Hosts.b200("0000:17:00.0")), PassthroughUnit.gpu(unknown))))
        .numaPlacement(true).build();

    assertTrue(args.expanderBuses().isEmpty() && args.warnings().stream()
        .anyMatch(d -> d.topic() == Decision.Topic.NUMA), args.describe().toString());
  }
}
