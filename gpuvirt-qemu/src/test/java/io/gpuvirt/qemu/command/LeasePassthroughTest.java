package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.qemu.testing.Hosts;
import io.gpuvirt.qemu.testing.RecordedQemu;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** Lease to PassthroughDevices: units, companions, bridges, roles and the clique. */
final class LeasePassthroughTest {

  /** A leased device built from a fixture device of {@link Hosts}. */
  static LeasedDevice leased(PciDevice d, DeviceRole role, OptionalInt moduleId) {
    return new LeasedDevice(d.address(), role, d.id(), d.subsystem(), d.pciClass(), d.numaNode(),
        Optional.of("nvidia"), d.bars(), d.physicalFunction(), moduleId);
  }

  static LeasedDevice requested(PciDevice d) {
    return leased(d, DeviceRole.REQUESTED, OptionalInt.empty());
  }

  static LeasedDevice bridge(String bdf) {
    return new LeasedDevice(PciAddress.parse(bdf), DeviceRole.BRIDGE, new PciId(0x8086, 0x352a),
        new PciId(0, 0), new PciClass(0x060400), 0, Optional.of("pcieport"), List.of(),
        Optional.empty(), OptionalInt.empty());
  }

  static Lease lease(OptionalInt partition, List<LeasedGroup> groups) {
    AllocationRequest request = AllocationRequest.builder("vm-42").count(groups.size()).build();
    return new Lease("vm-42", LeaseState.BOUND, request, groups, partition, List.of(),
        Instant.EPOCH);
  }

  /** One group per device, numbered from 10. */
  static Lease leaseOf(OptionalInt partition, List<LeasedDevice> devices) {
    List<LeasedGroup> groups = new ArrayList<>();
    for (LeasedDevice d : devices) {
      groups.add(new LeasedGroup(10 + groups.size(), List.of(d)));
    }
    return lease(partition, groups);
  }

  /** The four B200s of partition 2 (module ids 1-4: buses 17, 60, 70, 3d), given out of order. */
  static Lease b200Partition(int partitionId) {
    return leaseOf(OptionalInt.of(partitionId), List.of(
        leased(Hosts.b200("0000:70:00.0"), DeviceRole.REQUESTED, OptionalInt.of(3)),
        leased(Hosts.b200("0000:17:00.0"), DeviceRole.REQUESTED, OptionalInt.of(1)),
        leased(Hosts.b200("0000:60:00.0"), DeviceRole.REQUESTED, OptionalInt.of(2)),
        leased(Hosts.b200("0000:3d:00.0"), DeviceRole.REQUESTED, OptionalInt.of(4))));
  }

  private static List<String> primaries(PassthroughDevices devices) {
    return devices.units().stream().map(u -> u.primary().address().toString()).toList();
  }

  @Test
  void of_partitionLease_oneGpuUnitPerGpuInAddressOrder() {
    assertEquals(List.of("0000:17:00.0", "0000:3d:00.0", "0000:60:00.0", "0000:70:00.0"),
        primaries(LeasePassthrough.of(b200Partition(2))));
  }

  @Test
  void of_partitionLease_everyUnitIsAGpu() {
    assertTrue(LeasePassthrough.of(b200Partition(2)).units().stream()
        .allMatch(u -> u.role() == PassthroughUnit.Role.GPU && u.companions().isEmpty()));
  }

  @Test
  void of_partitionLease_cliqueIsThePartitionId() {
    assertEquals(OptionalInt.of(2), LeasePassthrough.of(b200Partition(2)).gpudirectClique());
  }

  @Test
  void of_partitionIdAbove15_cliqueIsTheIdModulo16() {
    assertEquals(OptionalInt.of(34 % 16),
        LeasePassthrough.of(b200Partition(34)).gpudirectClique());
  }

  @Test
  void of_leaseWithoutPartition_hasNoClique() {
    Lease lease = leaseOf(OptionalInt.empty(), List.of(requested(Hosts.b200("0000:17:00.0"))));
    assertEquals(OptionalInt.empty(), LeasePassthrough.of(lease).gpudirectClique());
  }

  @Test
  void of_partitionLeaseWithoutGpus_hasNoClique() {
    Lease lease = leaseOf(OptionalInt.of(1), List.of(requested(Hosts.nvswitch("0000:07:00.0"))));
    assertEquals(OptionalInt.empty(), LeasePassthrough.of(lease).gpudirectClique());
  }

  @Test
  void of_keepsWhatTheBuilderReadsOfEachDevice() {
    PciDevice b200 = Hosts.b200("0000:17:00.0");
    PciDevice unit = LeasePassthrough.of(leaseOf(OptionalInt.empty(), List.of(requested(b200))))
        .units().get(0).primary();
    assertEquals(List.of(b200.id(), b200.subsystem(), b200.pciClass(), b200.bars(),
            OptionalInt.of(10)),
        List.of(unit.id(), unit.subsystem(), unit.pciClass(), unit.bars(), unit.iommuGroup()));
  }

  @Test
  void of_bridgesInAGroup_stayOnTheHost() {
    Lease lease = lease(OptionalInt.empty(), List.of(new LeasedGroup(7, List.of(
        bridge("0000:16:00.0"), requested(Hosts.b200("0000:17:00.0"))))));
    assertEquals(List.of("0000:17:00.0"), primaries(LeasePassthrough.of(lease)));
  }

  @Test
  void of_onlyBridges_isRefused() {
    Lease lease = lease(OptionalInt.empty(),
        List.of(new LeasedGroup(7, List.of(bridge("0000:16:00.0")))));
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> LeasePassthrough.of(lease));
    assertTrue(e.getMessage().contains("vm-42"), e.getMessage());
  }

  @Test
  void of_gpuWithAudioCompanion_becomesOneDeviceWithTwoFunctions() {
    PassthroughUnit card = Hosts.consumerGpuWithAudio();
    Lease lease = lease(OptionalInt.empty(), List.of(new LeasedGroup(3, List.of(
        leased(card.companions().get(0), DeviceRole.COMPANION, OptionalInt.empty()),
        requested(card.primary())))));
    PassthroughUnit unit = LeasePassthrough.of(lease).units().get(0);
    assertEquals(List.of("0000:01:00.0", "0000:01:00.1"),
        unit.functions().stream().map(d -> d.address().toString()).toList());
  }

  @Test
  void of_companionFunctionBelowTheRequestedOne_requestedStaysPrimary() {
    PciDevice gpu = Hosts.b200("0000:17:00.1");
    PciDevice other = Hosts.cx7("0000:17:00.0");
    Lease lease = lease(OptionalInt.empty(), List.of(new LeasedGroup(3, List.of(
        leased(other, DeviceRole.COMPANION, OptionalInt.empty()), requested(gpu)))));
    PassthroughUnit unit = LeasePassthrough.of(lease).units().get(0);
    assertEquals(List.of("0000:17:00.1", "0000:17:00.0"),
        unit.functions().stream().map(d -> d.address().toString()).toList());
  }

  @Test
  void of_companionWithoutRequestedDeviceInItsSlot_isRefusedNamingIt() {
    Lease lease = lease(OptionalInt.empty(), List.of(new LeasedGroup(3, List.of(
        requested(Hosts.b200("0000:17:00.0")),
        leased(Hosts.cx7("0000:18:00.1"), DeviceRole.COMPANION, OptionalInt.empty())))));
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> LeasePassthrough.of(lease));
    assertTrue(e.getMessage().contains("0000:18:00.1"), e.getMessage());
  }

  @Test
  void of_allowedForeignFunctionsOfOneSlot_becomeOneOtherUnit() {
    Lease lease = lease(OptionalInt.empty(), List.of(new LeasedGroup(3, List.of(
        requested(Hosts.b200("0000:17:00.0")),
        leased(Hosts.cx7("0000:18:00.1"), DeviceRole.ALLOWED_FOREIGN, OptionalInt.empty()),
        leased(Hosts.cx7("0000:18:00.0"), DeviceRole.ALLOWED_FOREIGN, OptionalInt.empty())))));
    PassthroughUnit nic = LeasePassthrough.of(lease).units().get(1);
    assertEquals(List.of(PassthroughUnit.Role.OTHER, "0000:18:00.0", 1),
        List.of(nic.role(), nic.primary().address().toString(), nic.companions().size()));
  }

  @Test
  void of_requestedNvSwitch_isAFabricUnit() {
    Lease lease = leaseOf(OptionalInt.empty(), List.of(requested(Hosts.nvswitch("0000:07:00.0"))));
    assertEquals(PassthroughUnit.Role.FABRIC, LeasePassthrough.of(lease).units().get(0).role());
  }

  @Test
  void of_requestedNic_isAnOtherUnit() {
    Lease lease = leaseOf(OptionalInt.empty(), List.of(requested(Hosts.cx7("0000:05:00.0"))));
    assertEquals(PassthroughUnit.Role.OTHER, LeasePassthrough.of(lease).units().get(0).role());
  }

  @Test
  void of_virtualFunction_keepsItsPhysicalFunction() {
    PciDevice vf = PciDevice.builder(PciAddress.parse("0000:41:00.4"))
        .id(new PciId(0x10de, 0x20b5)).pciClass(new PciClass(0x030200))
        .physicalFunction(PciAddress.parse("0000:41:00.0")).build();
    PciDevice unit = LeasePassthrough.of(leaseOf(OptionalInt.empty(), List.of(requested(vf))))
        .units().get(0).primary();
    assertEquals(Optional.of(PciAddress.parse("0000:41:00.0")), unit.physicalFunction());
  }

  @Test
  void of_twoVirtualFunctionsOfOneSlot_getARootPortEach() {
    List<LeasedDevice> vfs = new ArrayList<>();
    for (int f = 4; f <= 5; f++) {
      vfs.add(requested(PciDevice.builder(PciAddress.parse("0000:41:00." + f))
          .id(new PciId(0x10de, 0x20b5)).pciClass(new PciClass(0x030200))
          .physicalFunction(PciAddress.parse("0000:41:00.0")).build()));
    }
    assertEquals(2, LeasePassthrough.of(leaseOf(OptionalInt.empty(), vfs)).units().size());
  }

  @Test
  void of_leaseInAnyState_converts() {
    Lease reserved = b200Partition(2).withState(LeaseState.ALLOCATED);
    assertEquals(4, LeasePassthrough.of(reserved).units().size());
  }

  @Test
  void of_nullLease_isRefused() {
    assertThrows(NullPointerException.class, () -> LeasePassthrough.of(null));
  }

  @Test
  void of_result_buildsACommandWithARootPortPerGpu() {
    QemuArgs args = QemuCommandBuilder.forQemu(RecordedQemu.capabilities())
        .memoryMiB(64 * 1024).devices(LeasePassthrough.of(b200Partition(2))).build();
    assertEquals(List.of("rp0", "rp1", "rp2", "rp3"),
        args.devices().stream().map(PlacedDevice::rootPort).toList());
  }

  @Test
  void of_result_carriesTheBarsIntoTheAperture() {
    QemuArgs args = QemuCommandBuilder.forQemu(RecordedQemu.capabilities())
        .memoryMiB(64 * 1024).devices(LeasePassthrough.of(b200Partition(2))).build();
    assertTrue(args.aperture().requiredBytes() >= 4 * 256 * Hosts.GIB,
        "aperture " + args.aperture());
  }
}
