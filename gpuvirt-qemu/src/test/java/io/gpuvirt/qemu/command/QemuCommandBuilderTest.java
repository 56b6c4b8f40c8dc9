package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RecordedQemu;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class QemuCommandBuilderTest {
  private static final QemuCapabilities QEMU_72 = RecordedQemu.capabilities();
  private static final long RAM_MIB = 256 * 1024;

  private static QemuCommandBuilder builder(QemuCapabilities caps, PassthroughDevices devices) {
    return QemuCommandBuilder.forQemu(caps).memoryMiB(RAM_MIB).devices(devices);
  }

  private static QemuArgs build(PassthroughDevices devices) {
    return builder(QEMU_72, devices).build();
  }

  private static List<QemuOption> deviceOptions(QemuArgs args, String driver) {
    List<QemuOption> out = new ArrayList<>();
    for (int i = 0; i + 1 < args.argv().size(); i++) {
      if (args.argv().get(i).equals("-device")) {
        QemuOption o = QemuOption.parse(args.argv().get(i + 1));
        if (o.head().equals(Optional.of(driver))) {
          out.add(o);
        }
      }
    }
    return out;
  }

  private static Optional<String> valueAfter(QemuArgs args, String flag) {
    int i = args.argv().indexOf(flag);
    return i < 0 ? Optional.empty() : Optional.of(args.argv().get(i + 1));
  }

  @Test
  void argv_startsWithProgramMachineAndAccelerator() {
    assertEquals(List.of("qemu-system-x86_64", "-machine", "q35", "-accel", "kvm"),
        build(Hosts.b200Vm(1)).argv().subList(0, 5));
  }

  @Test
  void rootPorts_onePerGpu() {
    assertEquals(8, deviceOptions(build(Hosts.b200Vm(8)), "pcie-root-port").size());
  }

  @Test
  void rootPorts_haveUniqueChassisSlotPairs() {
    Set<String> pairs = new HashSet<>();
    for (QemuOption p : deviceOptions(build(Hosts.h100FullPassthrough()), "pcie-root-port")) {
      pairs.add(p.get("chassis").orElseThrow() + "/" + p.get("slot").orElseThrow());
    }
    assertEquals(12, pairs.size());
  }

  @Test
  void rootPorts_coldPluggedHaveHotplugOff() {
    assertTrue(deviceOptions(build(Hosts.b200Vm(4)), "pcie-root-port").stream()
        .allMatch(p -> p.get("hotplug").equals(Optional.of("off"))));
  }

  @Test
  void rootPorts_sitOnTheRootComplex() {
    assertTrue(deviceOptions(build(Hosts.b200Vm(2)), "pcie-root-port").stream()
        .allMatch(p -> p.get("bus").equals(Optional.of("pcie.0"))));
  }

  @Test
  void devices_eachGpuBehindItsOwnPort() {
    List<String> buses = deviceOptions(build(Hosts.b200Vm(4)), "vfio-pci").stream()
        .map(o -> o.get("bus").orElseThrow()).toList();
    assertEquals(List.of("rp0", "rp1", "rp2", "rp3"), buses);
  }

  @Test
  void devices_hostIsTheCanonicalBdf() {
    assertEquals(Optional.of("0000:3d:00.0"),
        deviceOptions(build(Hosts.b200Vm(2)), "vfio-pci").get(1).get("host"));
  }

  @Test
  void companions_areFunctionsOfOneGuestDevice() {
    List<QemuOption> vfio = deviceOptions(build(PassthroughDevices.of(
        List.of(Hosts.consumerGpuWithAudio()))), "vfio-pci");
    assertEquals(List.of("vfio-pci,host=0000:01:00.0,id=hostdev0,bus=rp0,addr=0x0.0,"
            + "multifunction=on", "vfio-pci,host=0000:01:00.1,id=hostdev0.1,bus=rp0,addr=0x0.1"),
        vfio.stream().map(QemuOption::render).toList());
  }

  @Test
  void manyPorts_arePackedEightToASlot() {
    List<String> addrs = deviceOptions(build(Hosts.h100FullPassthrough()), "pcie-root-port")
        .stream().map(p -> p.get("addr").orElseThrow()).toList();
    assertEquals(List.of("0x10.0", "0x10.1", "0x10.2", "0x10.3", "0x10.4", "0x10.5", "0x10.6",
        "0x10.7", "0x11.0", "0x11.1", "0x11.2", "0x11.3"), addrs);
  }

  @Test
  void manyPorts_firstFunctionOfEachSlotIsMultifunction() {
    List<QemuOption> ports = deviceOptions(build(Hosts.h100FullPassthrough()), "pcie-root-port");
    assertTrue(ports.get(0).get("multifunction").isPresent()
        && ports.get(8).get("multifunction").isPresent()
        && ports.get(1).get("multifunction").isEmpty());
  }

  @Test
  void fewPorts_takeOneSlotEach() {
    List<String> addrs = deviceOptions(build(Hosts.b200Vm(2)), "pcie-root-port").stream()
        .map(p -> p.get("addr").orElseThrow()).toList();
    assertEquals(List.of("0x10.0", "0x11.0"), addrs);
  }

  @Test
  void tooManyPorts_forTheRootBusIsRefused() {
    QemuArgsException e = assertThrows(QemuArgsException.class,
        () -> builder(QEMU_72, Hosts.h100FullPassthrough()).firstRootPortSlot(0x1e).build());
    assertTrue(e.getMessage().contains("past 0x1e"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"7.2.22", "8.2.2"})
  void eightB200s_onOlderQemu_getXNoMmap(String version) {
    QemuArgs args = builder(RecordedQemu.capabilities(QemuVersion.parse(version)),
        Hosts.b200Vm(8)).build();
    assertTrue(deviceOptions(args, "vfio-pci").stream()
        .allMatch(o -> o.get("x-no-mmap").equals(Optional.of("true"))));
  }

  @ParameterizedTest
  @ValueSource(strings = {"7.2.22", "8.2.2"})
  void eightB200s_onOlderQemu_planSaysWhyAndWhatItCosts(String version) {
    Decision d = builder(RecordedQemu.capabilities(QemuVersion.parse(version)), Hosts.b200Vm(8))
        .build().plan(Decision.Topic.LARGE_BAR).get(0);
    assertTrue(d.choice().equals("x-no-mmap=true") && d.reason().contains("older than 10.1.0")
        && d.reason().contains("stall") && d.cost().isPresent(), d.toString());
  }

  @Test
  void eightB200s_onQemu101_keepBarMmap() {
    QemuArgs args = builder(RecordedQemu.capabilities(QemuVersion.of(10, 1, 0)),
        Hosts.b200Vm(8)).build();
    assertTrue(deviceOptions(args, "vfio-pci").stream()
        .noneMatch(o -> o.get("x-no-mmap").isPresent()));
  }

  @Test
  void eightB200s_onQemu101_planSaysWhy() {
    Decision d = builder(RecordedQemu.capabilities(QemuVersion.of(10, 1, 0)), Hosts.b200Vm(8))
        .build().plan(Decision.Topic.LARGE_BAR).get(0);
    assertTrue(d.choice().startsWith("BARs mmapped") && d.reason().contains("at least 10.1.0"),
        d.toString());
  }

  @Test
  void twoB200s_onQemu82_stayBelowTheTotalThatTriggersXNoMmap() {
    QemuArgs args = builder(RecordedQemu.capabilities(QemuVersion.of(8, 2, 2)),
        Hosts.b200Vm(2)).build();
    assertTrue(deviceOptions(args, "vfio-pci").stream()
        .noneMatch(o -> o.get("x-no-mmap").isPresent()));
  }

  @Test
  void policyVersion_isAThreshold() {
    LargeBarPolicy p = LargeBarPolicy.defaults().toBuilder()
        .noMmapBelowVersion(QemuVersion.of(9, 2, 0)).build();
    QemuArgs args = builder(RecordedQemu.capabilities(QemuVersion.of(9, 2, 0)), Hosts.b200Vm(8))
        .largeBarPolicy(p).build();
    assertTrue(deviceOptions(args, "vfio-pci").stream()
        .noneMatch(o -> o.get("x-no-mmap").isPresent()));
  }

  @Test
  void policyAlways_setsXNoMmapOnNewQemu() {
    LargeBarPolicy p = LargeBarPolicy.defaults().toBuilder()
        .noMmap(LargeBarPolicy.NoMmapMode.ALWAYS).build();
    QemuArgs args = builder(RecordedQemu.capabilities(QemuVersion.of(10, 1, 0)),
        Hosts.b200Vm(1)).largeBarPolicy(p).build();
    assertEquals(Optional.of("true"), deviceOptions(args, "vfio-pci").get(0).get("x-no-mmap"));
  }

  @Test
  void policyNever_keepsMmapOnOldQemu() {
    LargeBarPolicy p = LargeBarPolicy.defaults().toBuilder()
        .noMmap(LargeBarPolicy.NoMmapMode.NEVER).build();
    QemuArgs args = builder(QEMU_72, Hosts.b200Vm(8)).largeBarPolicy(p).build();
    assertTrue(deviceOptions(args, "vfio-pci").stream()
        .noneMatch(o -> o.get("x-no-mmap").isPresent()));
  }

  @Test
  void fabricDevices_neverGetXNoMmap() {
    List<QemuOption> cx7 = deviceOptions(build(Hosts.b200FullPassthrough()), "vfio-pci").stream()
        .filter(o -> o.get("host").orElseThrow().startsWith("0000:05:")).toList();
    assertTrue(cx7.size() == 4 && cx7.stream().noneMatch(o -> o.get("x-no-mmap").isPresent()));
  }

  @Test
  void xNoMmapMissingFromBinary_isAWarningNotAProperty() {
    QemuArgs args = builder(RecordedQemu.without(QEMU_72, "vfio-pci", "x-no-mmap"),
        Hosts.b200Vm(8)).build();
    assertTrue(args.warnings().stream().anyMatch(d -> d.topic() == Decision.Topic.LARGE_BAR)
        && deviceOptions(args, "vfio-pci").stream()
            .noneMatch(o -> o.get("x-no-mmap").isPresent()));
  }

  @Test
  void eightB200s_getA4TiBAperture() {
    assertEquals(Optional.of("name=opt/ovmf/X-PciMmio64Mb,string=4194304"),
        valueAfter(build(Hosts.b200Vm(8)), "-fw_cfg"));
  }

  @Test
  void smallBars_keepTheFirmwareDefaultAperture() {
    assertEquals(Optional.empty(), valueAfter(build(PassthroughDevices.of(
        List.of(Hosts.consumerGpuWithAudio()))), "-fw_cfg"));
  }

  @Test
  void cpu_getsTheHostAddressWidth() {
    assertEquals(Optional.of("host,host-phys-bits=on"), valueAfter(build(Hosts.b200Vm(8)),
        "-cpu"));
  }

  @Test
  void cpu_limitIsEmitted() {
    assertEquals(Optional.of("host,host-phys-bits=on,host-phys-bits-limit=46"),
        valueAfter(builder(QEMU_72, Hosts.b200Vm(8)).physBits(PhysBits.hostLimitedTo(46))
            .build(), "-cpu"));
  }

  @Test
  void cpu_limitBelowWhatTheApertureNeedsIsRefused() {
    QemuArgsException e = assertThrows(QemuArgsException.class,
        () -> builder(QEMU_72, Hosts.b200Vm(8)).physBits(PhysBits.hostLimitedTo(39)).build());
    assertTrue(e.getMessage().contains("2^43"), e.getMessage());
  }

  @Test
  void cpu_fixedWidthBelowWhatTheApertureNeedsIsRefused() {
    assertThrows(QemuArgsException.class,
        () -> builder(QEMU_72, Hosts.b200Vm(8)).physBits(PhysBits.fixed(40)).build());
  }

  @Test
  void cpu_narrowHostIsRefused() {
    assertThrows(QemuArgsException.class,
        () -> builder(QEMU_72, Hosts.b200Vm(8)).hostAddressBits(40).build());
  }

  @Test
  void cpu_fixedWidthIsEmittedWithHostPhysBitsOff() {
    // -cpu host defaults to host-phys-bits=on under KVM, which would make QEMU ignore phys-bits.
    assertEquals(Optional.of("host,host-phys-bits=off,phys-bits=46"),
        valueAfter(builder(QEMU_72, Hosts.b200Vm(8))
        .physBits(PhysBits.fixed(46)).build(), "-cpu"));
  }

  @Test
  void cpu_unprobedModelIsRefusedWithTheProbeToRun() {
    QemuArgsException e = assertThrows(QemuArgsException.class,
        () -> builder(QEMU_72, Hosts.b200Vm(1)).cpuModel("EPYC").build());
    assertTrue(e.getMessage().contains("EPYC-x86_64-cpu"), e.getMessage());
  }

  @Test
  void machine_withoutQ35IsRefused() {
    QemuCapabilities noQ35 = QemuCapabilities.builder(QEMU_72.version())
        .machines(List.of("pc", "pc-i440fx-7.2")).accelerators(QEMU_72.accelerators())
        .device("vfio-pci", List.of("host")).device("pcie-root-port", List.of("chassis"))
        .build();
    assertThrows(QemuArgsException.class, () -> builder(noQ35, Hosts.b200Vm(1)).build());
  }

  @Test
  void accelerator_missingFromBinaryIsRefused() {
    QemuCapabilities tcgOnly = QemuCapabilities.builder(QEMU_72.version())
        .machines(QEMU_72.machines()).accelerators(List.of("tcg")).build();
    QemuArgsException e = assertThrows(QemuArgsException.class,
        () -> builder(tcgOnly, Hosts.b200Vm(1)).build());
    assertTrue(e.getMessage().contains("'kvm'"), e.getMessage());
  }

  @Test
  void vfioMissingFromBinaryIsRefused() {
    QemuCapabilities noVfio = QEMU_72.toBuilder().absentDevice("vfio-pci").build();
    assertThrows(QemuArgsException.class, () -> builder(noVfio, Hosts.b200Vm(1)).build());
  }

  @Test
  void clique_isSetOnGpusOnly() {
    PassthroughDevices devices = PassthroughDevices.builder()
        .addAll(Hosts.b200FullPassthrough().units()).gpudirectClique(3).build();
    List<QemuOption> vfio = deviceOptions(build(devices), "vfio-pci");
    assertTrue(vfio.subList(0, 8).stream()
        .allMatch(o -> o.get("x-nv-gpudirect-clique").equals(Optional.of("3")))
        && vfio.subList(8, 12).stream()
            .noneMatch(o -> o.get("x-nv-gpudirect-clique").isPresent()));
  }

  @Test
  void clique_missingFromBinaryIsAWarning() {
    PassthroughDevices devices = PassthroughDevices.builder()
        .addAll(Hosts.b200Vm(2).units()).gpudirectClique(0).build();
    QemuArgs args = builder(RecordedQemu.without(QEMU_72, "vfio-pci", "x-nv-gpudirect-clique"),
        devices).build();
    assertTrue(args.warnings().stream().anyMatch(d -> d.topic() == Decision.Topic.CLIQUE)
        && !String.join(" ", args.argv()).contains("clique"));
  }

  @Test
  void romBarOff_hidesGpuRoms() {
    QemuArgs args = builder(QEMU_72, Hosts.b200Vm(2))
        .largeBarPolicy(LargeBarPolicy.defaults().toBuilder().romBarOff(true).build()).build();
    assertTrue(deviceOptions(args, "vfio-pci").stream()
        .allMatch(o -> o.get("rombar").equals(Optional.of("0"))));
  }

  @Test
  void romBar_defaultIsLeftAlone() {
    assertFalse(String.join(" ", build(Hosts.b200Vm(2)).argv()).contains("rombar"));
  }

  @Test
  void hotplugPorts_reserveA64BitWindow() {
    QemuArgs args = builder(QEMU_72, Hosts.b200Vm(1)).hotplugPorts(2).build();
    List<String> hp = args.hotplugPorts().stream().map(p -> p.option().render()).toList();
    assertEquals(List.of(
        "pcie-root-port,id=hp0,bus=pcie.0,addr=0x11.0,chassis=2,slot=2,pref64-reserve=512G",
        "pcie-root-port,id=hp1,bus=pcie.0,addr=0x12.0,chassis=3,slot=3,pref64-reserve=512G"), hp);
  }

  @Test
  void hotplugPorts_countInTheAperture() {
    QemuArgs args = builder(QEMU_72, Hosts.b200Vm(1)).hotplugPorts(2).build();
    assertEquals(2L << 40, args.aperture().sizeBytes());
  }

  @Test
  void singleGpuVms_eachGetOneDeviceBehindRp0() {
    for (var gpu : Hosts.b200s(8)) {
      QemuArgs args = build(PassthroughDevices.of(List.of(PassthroughUnit.gpu(gpu))));
      List<QemuOption> vfio = deviceOptions(args, "vfio-pci");
      assertTrue(vfio.size() == 1 && vfio.get(0).get("bus").equals(Optional.of("rp0"))
          && vfio.get(0).get("host").equals(Optional.of(gpu.address().toString())),
          args.argv().toString());
    }
  }

  @Test
  void singleGpuVm_onQemu72_keepsBarMmap() {
    assertFalse(String.join(" ", build(Hosts.b200Vm(1)).argv()).contains("x-no-mmap"));
  }

  @Test
  void fullPassthroughB200_managementPfsAreOneGuestDevice() {
    List<String> cx7 = deviceOptions(build(Hosts.b200FullPassthrough()), "vfio-pci").stream()
        .filter(o -> o.get("bus").equals(Optional.of("rp8")))
        .map(o -> o.get("host").orElseThrow() + "@" + o.get("addr").orElseThrow()).toList();
    assertEquals(List.of("0000:05:00.0@0x0.0", "0000:05:00.1@0x0.1", "0000:05:00.2@0x0.2",
        "0000:05:00.3@0x0.3"), cx7);
  }

  @Test
  void fullPassthroughB200_planSaysTheGuestRunsFabricManager() {
    assertTrue(build(Hosts.b200FullPassthrough()).plan(Decision.Topic.DEVICE).stream()
        .anyMatch(d -> d.subject().startsWith("0000:05:00.0")
            && d.reason().contains("Fabric Manager")));
  }

  @Test
  void fullPassthroughH100_nvSwitchesGetTheirOwnPorts() {
    List<String> buses = deviceOptions(build(Hosts.h100FullPassthrough()), "vfio-pci").stream()
        .filter(o -> o.get("host").orElseThrow().matches("0000:0[789a]:00.0"))
        .map(o -> o.get("bus").orElseThrow()).toList();
    assertEquals(List.of("rp8", "rp9", "rp10", "rp11"), buses);
  }

  @Test
  void plan_explainsEveryTopicOfAnEightGpuVm() {
    Set<Decision.Topic> topics = new HashSet<>();
    build(Hosts.b200Vm(8)).plan().forEach(d -> topics.add(d.topic()));
    assertTrue(topics.containsAll(List.of(Decision.Topic.MACHINE, Decision.Topic.CPU,
        Decision.Topic.ROOT_PORT, Decision.Topic.DEVICE, Decision.Topic.LARGE_BAR,
        Decision.Topic.APERTURE)), topics.toString());
  }

  @Test
  void extraArguments_comeLastAsGiven() {
    QemuArgs args = builder(QEMU_72, Hosts.b200Vm(1))
        .extraArguments(List.of("-nodefaults", "-display", "none")).build();
    assertEquals(List.of("-nodefaults", "-display", "none"),
        args.argv().subList(args.argv().size() - 3, args.argv().size()));
  }

  @Test
  void toJson_carriesArgvAndPlan() throws Exception {
    QemuArgs args = build(Hosts.b200Vm(8));
    JsonNode json = new ObjectMapper().readTree(args.toJson());
    List<String> argv = new ArrayList<>();
    json.get("argv").forEach(n -> argv.add(n.asText()));
    assertTrue(argv.equals(args.argv()) && json.get("plan").size() == args.plan().size()
        && json.at("/aperture/sizeMiB").asLong() == 4194304, args.toJson());
  }

  @Test
  void build_qemuOlderThanTheMinimum_isRefusedNamingTheVersion() {
    QemuCapabilities old = QemuCapabilities.assumed(QemuVersion.parse(
        "QEMU emulator version 1.5.3 (qemu-kvm-1.5.3-175.el7_9.1), Copyright (c) 2003-2008"
            + " Fabrice Bellard"));
    QemuArgsException e = assertThrows(QemuArgsException.class,
        () -> builder(old, Hosts.b200Vm(1)).build());
    assertTrue(e.getMessage().contains("1.5.3 (qemu-kvm-1.5.3-175.el7_9.1)")
        && e.getMessage().contains("older than 2.11.0"), e.getMessage());
  }

  @Test
  void build_minimumLowered_rendersForAnOlderBuild() {
    QemuCapabilities backport = copyWithVersion(QEMU_72, QemuVersion.of(2, 10, 0));
    QemuArgs args = builder(backport, Hosts.b200Vm(1))
        .minimumVersion(QemuVersion.of(2, 9, 0)).build();
    assertTrue(args.argv().stream().anyMatch(a -> a.startsWith("vfio-pci,host=0000:17:00.0")),
        args.argv().toString());
  }

  private static QemuCapabilities copyWithVersion(QemuCapabilities caps, QemuVersion version) {
    QemuCapabilities.Builder b = QemuCapabilities.builder(version);
    b.machines(caps.machines());
    b.accelerators(caps.accelerators());
    for (String type : caps.probedDevices()) {
      b.device(type, caps.deviceProperties(type).orElseThrow());
    }
    return b.build();
  }

  @Test
  void build_withoutMemoryIsRefused() {
    assertThrows(IllegalStateException.class,
        () -> QemuCommandBuilder.forQemu(QEMU_72).devices(Hosts.b200Vm(1)).build());
  }

  @Test
  void devices_sameFunctionTwiceIsRefused() {
    var gpu = Hosts.b200("0000:17:00.0");
    assertThrows(InvalidValueException.class, () -> PassthroughDevices.of(
        List.of(PassthroughUnit.gpu(gpu), PassthroughUnit.gpu(gpu))));
  }

  @Test
  void unit_gpuRoleForANonGpuIsRefused() {
    assertThrows(InvalidValueException.class,
        () -> PassthroughUnit.gpu(Hosts.nvswitch("0000:07:00.0")));
  }
}
