package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Profiles are immutable, validated, and name the device that breaks a rule. */
final class HostProfileTest {
  private static final PciAddress PORT = PciAddress.parse("00:01.0");
  private static final PciAddress GPU = PciAddress.parse("01:00.0");

  static List<String> presets() {
    return HostProfile.presetNames();
  }

  /** A root port with a GPU behind it. */
  private static HostProfile.Builder small() {
    return HostProfile.builder().name("small").loadDriver("nvidia")
        .device(DeviceSpec.builder(PORT).id(new PciId(0x8086, 0x352a)).pciClass(new PciClass(0x060400))
            .busRange(new BusRange(1, 1)).portType(PciePortType.ROOT_PORT).build())
        .device(gpu(GPU).build());
  }

  private static DeviceSpec.Builder gpu(PciAddress a) {
    return DeviceSpec.builder(a).parent(PORT).id(new PciId(0x10de, 0x2901))
        .pciClass(new PciClass(0x030200)).addBar(new Bar(0, 0x2000_0000_0000L, 1L << 30, true, true,
            false)).driver("nvidia");
  }

  private static String refusal(UnaryOperator<HostProfile.Builder> change) {
    return assertThrows(InvalidValueException.class, () -> change.apply(small()).build())
        .getMessage();
  }

  @Test
  void build_ofAValidProfile_keepsItsDevicesSorted() {
    assertEquals(List.of(PORT, GPU), small().build().devices().stream().map(DeviceSpec::address)
        .toList());
  }

  @ParameterizedTest
  @MethodSource("presets")
  void toBuilder_build_givesAnEqualProfile(String preset) {
    HostProfile p = HostProfile.preset(preset);
    assertEquals(p, p.toBuilder().build());
  }

  @Test
  void preset_unknownName_isRefusedNamingThePresets() {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> HostProfile.preset("dgx"));
    assertTrue(e.getMessage().contains("hgx-b200"), e.getMessage());
  }

  @Test
  void build_parentThatIsNotADevice_isRefused() {
    assertTrue(refusal(b -> b.removeDevice(PORT)).startsWith("device 0000:01:00.0: its parent"));
  }

  @Test
  void build_deviceOffItsParentsSecondaryBus_isRefused() {
    assertTrue(refusal(b -> b.removeDevice(GPU).device(gpu(PciAddress.parse("02:00.0")).build()))
        .contains("must sit on bus 01"));
  }

  @Test
  void build_parentThatIsNotABridge_isRefused() {
    assertTrue(refusal(b -> b.device(gpu(PciAddress.parse("01:00.1")).parent(GPU).build()))
        .contains("is not a bridge"));
  }

  @Test
  void build_orphanBehindABridgeRange_isRefused() {
    assertTrue(refusal(b -> b.device(gpu(GPU).parent(null).build()))
        .contains("lies behind bridge 0000:00:01.0"));
  }

  @Test
  void build_overlappingBusRanges_isRefused() {
    assertTrue(refusal(b -> b.device(DeviceSpec.builder(PciAddress.parse("00:02.0"))
        .pciClass(new PciClass(0x060400)).busRange(new BusRange(1, 2)).build()))
        .contains("overlap"));
  }

  @Test
  void build_functionWithoutFunctionZero_isRefused() {
    assertTrue(refusal(b -> b.removeDevice(GPU).device(gpu(PciAddress.parse("01:00.1")).build()))
        .contains("function 0 of its slot is missing"));
  }

  @Test
  void build_someDevicesWithoutGroup_isRefused() {
    assertTrue(refusal(b -> b.device(gpu(GPU).iommuGroup(3).build()))
        .contains("has no IOMMU group but other devices have one"));
  }

  @Test
  void build_overlappingBars_isRefused() {
    assertTrue(refusal(b -> b.device(gpu(PciAddress.parse("01:00.1")).build()))
        .contains("overlaps"));
  }

  @Test
  void build_nonPrefetchableBarAbove4GBehindABridge_isRefused() {
    assertTrue(refusal(b -> b.device(gpu(GPU).bars(List.of(new Bar(0, 0x1_0000_0000L, 1 << 20,
        true, false, false))).build())).contains("above 4G"));
  }

  @Test
  void build_duplicateModuleId_isRefused() {
    assertTrue(refusal(b -> b.device(gpu(GPU).moduleId(1).build())
        .device(gpu(PciAddress.parse("01:00.1")).moduleId(1)
            .bars(List.of(new Bar(0, 0x3000_0000_0000L, 1L << 30, true, true, false))).build()))
        .contains("module id 1 is used twice"));
  }

  @Test
  void build_vfsThatCollideWithAFunction_isRefused() {
    DeviceSpec.SriovSpec sriov = new DeviceSpec.SriovSpec(2, 0x101e, 1, 1,
        new Bar(0, 0x3000_0000_0000L, 1 << 20, true, true, false), 0, Optional.empty());
    assertTrue(refusal(b -> b.device(gpu(GPU).sriov(sriov).build())
        .device(gpu(PciAddress.parse("01:00.2"))
            .bars(List.of(new Bar(0, 0x4000_0000_0000L, 1L << 30, true, true, false))).build()))
        .contains("its VF 1 would be at 0000:01:00.2, which is taken"));
  }

  @Test
  void deviceSpec_unalignedBar_isRefused() {
    assertThrows(InvalidValueException.class, () -> gpu(GPU).bars(List.of(new Bar(0,
        0x1000, 1 << 20, true, true, false))).build());
  }

  @Test
  void deviceSpec_64BitBarAtIndexFive_isRefused() {
    assertThrows(InvalidValueException.class, () -> gpu(GPU).bars(List.of(new Bar(5,
        0x2000_0000_0000L, 1 << 20, true, true, false))).build());
  }

  @Test
  void deviceSpec_driverNameWithASlash_isRefused() {
    assertThrows(InvalidValueException.class, () -> gpu(GPU).driver("../nvidia").build());
  }

  @Test
  void withoutIommu_dropsGroupsAndTheCmdlineFlags() {
    HostProfile p = HostProfile.hgxB200().toBuilder().withoutIommu().build();
    assertEquals(List.of(false, false, false), List.of(p.iommuEnabled(),
        p.cmdline().contains("intel_iommu"), p.cmdline().contains("iommu=pt")));
  }

  @Test
  void unloadDriver_keepsAModuleAnotherDriverStillNeeds() {
    HostProfile p = HostProfile.hgxH100().toBuilder().unloadDriver("nvidia-nvswitch").build();
    assertEquals(List.of(false, true), List.of(p.drivers().contains("nvidia-nvswitch"),
        p.modules().contains("nvidia")));
  }

  @Test
  void file_underSys_isRefused() {
    assertThrows(InvalidValueException.class,
        () -> HostProfile.builder().file("/sys/bus/pci/rescan", "1"));
  }

  @Test
  void devices_isImmutable() {
    assertThrows(UnsupportedOperationException.class,
        () -> HostProfile.workstation().devices().clear());
  }
}
