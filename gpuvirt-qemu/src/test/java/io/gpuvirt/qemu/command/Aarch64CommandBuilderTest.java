package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.testing.Hosts;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The builder for an aarch64 binary: the architecture comes from the capabilities, and picks
 * {@code virt}, AAVMF, the per-GPU expander buses and, from QEMU 9.2, the GPUs' NUMA nodes.
 */
final class Aarch64CommandBuilderTest {
  private static final QemuVersion V7_2 = QemuVersion.of(7, 2, 0);
  private static final QemuVersion V9_2 = QemuVersion.of(9, 2, 0);
  private static final QemuVersion V10_1 = QemuVersion.of(10, 1, 0);

  private static QemuCommandBuilder builder(QemuVersion version) {
    return QemuCommandBuilder.forQemu(QemuCapabilities.assumed(version, CpuArchitecture.AARCH64))
        .memoryMiB(8192).cpus(8);
  }

  private static QemuArgs build(QemuVersion version, int gpus) {
    return builder(version).devices(Hosts.gb200Vm(gpus)).build();
  }

  /** The values of every {@code option} in the argv, in order. */
  private static List<String> values(QemuArgs args, String option) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i + 1 < args.argv().size(); i++) {
      if (args.argv().get(i).equals(option)) {
        out.add(args.argv().get(i + 1));
      }
    }
    return out;
  }

  @Test
  void argv_startsWithTheAarch64BinaryAndTheVirtMachine() {
    assertEquals(List.of("qemu-system-aarch64", "-machine", "virt,gic-version=3,highmem=on",
        "-accel", "kvm"), build(V7_2, 1).argv().subList(0, 5));
  }

  @Test
  void guestSmmu_addsIommuSmmuv3ToTheMachine() {
    QemuArgs args = builder(V7_2).guestSmmu(true).devices(Hosts.gb200Vm(1)).build();
    assertEquals(List.of("virt,gic-version=3,iommu=smmuv3,highmem=on"), values(args, "-machine"));
  }

  @Test
  void guestSmmu_onX86_isRefusedNamingTheArchitecture() {
    QemuCommandBuilder b = QemuCommandBuilder.forQemu(QemuCapabilities.assumed(V10_1))
        .memoryMiB(8192).devices(Hosts.b200Vm(1)).guestSmmu(true);
    QemuArgsException e = assertThrows(QemuArgsException.class, b::build);
    assertTrue(e.getMessage().contains("aarch64"), e.getMessage());
  }

  @Test
  void eachGpu_sitsBehindARootPortOnAnExpanderBusOfItsOwn() {
    QemuArgs args = build(V7_2, 4);
    List<String> devices = values(args, "-device");
    assertEquals(List.of(
        "pxb-pcie,id=pxb0,bus_nr=16,bus=pcie.0,addr=0x10.0",
        "pxb-pcie,id=pxb1,bus_nr=32,bus=pcie.0,addr=0x11.0",
        "pxb-pcie,id=pxb2,bus_nr=48,bus=pcie.0,addr=0x12.0",
        "pxb-pcie,id=pxb3,bus_nr=64,bus=pcie.0,addr=0x13.0",
        "pcie-root-port,id=rp0,bus=pxb0,addr=0x0.0,chassis=1,slot=1,hotplug=off",
        "pcie-root-port,id=rp1,bus=pxb1,addr=0x0.0,chassis=2,slot=2,hotplug=off",
        "pcie-root-port,id=rp2,bus=pxb2,addr=0x0.0,chassis=3,slot=3,hotplug=off",
        "pcie-root-port,id=rp3,bus=pxb3,addr=0x0.0,chassis=4,slot=4,hotplug=off",
        "vfio-pci,host=0008:01:00.0,id=hostdev0,bus=rp0,addr=0x0.0",
        "vfio-pci,host=0009:01:00.0,id=hostdev1,bus=rp1,addr=0x0.0",
        "vfio-pci,host=0018:01:00.0,id=hostdev2,bus=rp2,addr=0x0.0",
        "vfio-pci,host=0019:01:00.0,id=hostdev3,bus=rp3,addr=0x0.0"), devices);
  }

  @Test
  void noX86OnlyOption_isEmittedOnAarch64() {
    QemuArgs args = builder(V7_2).largeBarPolicy(LargeBarPolicy.defaults().toBuilder()
        .noMmap(LargeBarPolicy.NoMmapMode.ALWAYS).build()).devices(Hosts.gb200Vm(4)).build();
    String argv = String.join(" ", args.argv());
    assertTrue(!argv.contains("x-no-mmap") && !argv.contains("-fw_cfg")
        && !argv.contains("X-PciMmio64Mb") && !argv.contains("host-phys-bits")
        && !argv.contains("q35"), argv);
  }

  @Test
  void qemu72_getsThePlainLayoutAndThePlanStatesItsCost() {
    QemuArgs args = build(V7_2, 2);
    Decision numa = args.plan(Decision.Topic.NUMA).get(0);
    assertTrue(!String.join(" ", args.argv()).contains("acpi-generic-initiator")
        && values(args, "-numa").isEmpty() && numa.choice().startsWith("plain layout")
        && numa.cost().orElseThrow().contains("no NUMA nodes for the GPUs' coherent memory"),
        numa.toString());
  }

  @Test
  void qemu92_givesEachGpuEightNumaNodesTiedByGenericInitiators() {
    QemuArgs args = build(V9_2, 2);
    List<String> objects = values(args, "-object").stream()
        .filter(o -> o.startsWith("acpi-generic-initiator")).toList();
    assertEquals(16, objects.size(), objects.toString());
    assertEquals(List.of("acpi-generic-initiator,id=gi0-0,pci-dev=hostdev0,node=1",
        "acpi-generic-initiator,id=gi1-7,pci-dev=hostdev1,node=16"),
        List.of(objects.get(0), objects.get(15)));
  }

  @Test
  void qemu92_numaNodes_areTheCpuNodeThenTheGpusCpuLessNodes() {
    List<String> numa = values(build(V9_2, 1), "-numa");
    assertEquals(List.of("node,nodeid=0,cpus=0-7,memdev=ram-node0", "node,nodeid=1",
        "node,nodeid=2", "node,nodeid=3", "node,nodeid=4", "node,nodeid=5", "node,nodeid=6",
        "node,nodeid=7", "node,nodeid=8"), numa);
  }

  @Test
  void gpuNumaNodes_changesTheNodesPerGpu() {
    QemuArgs args = builder(V9_2).gpuNumaNodes(2).devices(Hosts.gb200Vm(4)).build();
    assertEquals(8, args.machine().gpuNodes().size());
  }

  @Test
  void qemu101_withFourGpus_enlargesTheHighMmioWindow() {
    String machine = values(build(V10_1, 4), "-machine").get(0);
    assertTrue(machine.startsWith("virt,gic-version=3,highmem=on,highmem-mmio-size=")
        && !machine.endsWith("=512G"), machine);
  }

  @Test
  void qemu72_withFourGpus_warnsThatTheHighMmioWindowIsTooSmall() {
    List<Decision> aperture = build(V7_2, 4).plan(Decision.Topic.APERTURE);
    assertTrue(aperture.get(0).warning() && aperture.get(0).cost().orElseThrow()
        .contains("upgrade QEMU to 10.0"), aperture.toString());
  }

  @Test
  void machine_recordsTheArchitectureAndMachineOption() {
    GuestMachine m = build(V7_2, 1).machine();
    assertEquals(List.of(CpuArchitecture.AARCH64, "virt,gic-version=3,highmem=on"),
        List.of(m.architecture(), m.machineOption()));
  }

  @Test
  void x86Capabilities_stillGiveQ35() {
    QemuArgs args = QemuCommandBuilder.forQemu(QemuCapabilities.assumed(V10_1)).memoryMiB(8192)
        .devices(Hosts.b200Vm(1)).build();
    assertEquals(List.of("qemu-system-x86_64", "-machine", "q35"), args.argv().subList(0, 3));
  }

  @Test
  void cpuModelWithoutItsArmType_isRefusedNamingTheType() {
    QemuCommandBuilder b = builder(V7_2).cpuModel("neoverse-v2").devices(Hosts.gb200Vm(1));
    QemuArgsException e = assertThrows(QemuArgsException.class, b::build);
    assertTrue(e.getMessage().contains("neoverse-v2-arm-cpu"), e.getMessage());
  }
}
