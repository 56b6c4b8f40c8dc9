package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.alloc.TestHost;
import io.gpuvirt.core.alloc.TestHosts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Topology;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

final class AllocatorTest {
  private static final Instant NOW = Instant.parse("2026-01-05T10:00:00Z");

  private static Lease allocate(AllocationRequest request, Topology host, List<Lease> leases) {
    return Allocator.allocate(request, host, leases, NOW);
  }

  private static AllocationRequest gpus(String owner, int n) {
    return AllocationRequest.builder(owner).count(n).build();
  }

  private static Map<String, DeviceRole> roles(Lease lease) {
    Map<String, DeviceRole> roles = new TreeMap<>();
    lease.devices().forEach(d -> roles.put(d.address().toString(), d.role()));
    return roles;
  }

  @Test
  void allocate_gpuWithAudioFunction_bringsAudioAsCompanion() {
    Lease lease = allocate(gpus("vm-1", 1), TestHosts.workstation(), List.of());

    assertEquals(Map.of("0000:01:00.0", DeviceRole.REQUESTED, "0000:01:00.1", DeviceRole.COMPANION),
        roles(lease));
  }

  @Test
  void allocate_groupWithForeignNic_isRefusedNamingTheNic() {
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate(gpus("vm-1", 2), TestHosts.noAcsSwitch(), List.of()));

    assertTrue(e.getMessage().contains("foreign endpoint 0000:07:00.0 [15b3:1021"), e.getMessage());
  }

  @Test
  void allocate_groupWithForeignNic_isNotUsedForOneGpu() {
    Lease lease = allocate(gpus("vm-1", 1), TestHosts.noAcsSwitch(), List.of());

    assertEquals(List.of(21), lease.groupNumbers());
  }

  @Test
  void allocate_allowedForeignNic_comesAlongWithBothGpusOfTheGroup() {
    AllocationRequest request = AllocationRequest.builder("vm-1").count(2)
        .allowForeign(PciAddress.parse("0000:07:00.0")).build();

    Lease lease = allocate(request, TestHosts.noAcsSwitch(), List.of());

    assertEquals(Map.of("0000:05:00.0", DeviceRole.REQUESTED, "0000:06:00.0", DeviceRole.REQUESTED,
        "0000:07:00.0", DeviceRole.ALLOWED_FOREIGN), roles(lease));
  }

  @Test
  void allocate_groupWithTwoGpus_isNotSplitToAnswerOne() {
    AllocationRequest request = AllocationRequest.builder("vm-1").count(3)
        .allowForeign(PciAddress.parse("0000:07:00.0")).build();

    Lease lease = allocate(request, TestHosts.noAcsSwitch(), List.of());

    assertEquals(List.of(20, 21), lease.groupNumbers());
  }

  @Test
  void allocate_hostAndPciBridgeInGroup_areExemptAndRecordedAsBridges() {
    Lease lease = allocate(gpus("vm-1", 1), TestHosts.amdBridgesInGroup(), List.of());

    assertEquals(Map.of("0000:40:03.0", DeviceRole.BRIDGE, "0000:40:03.1", DeviceRole.BRIDGE,
        "0000:41:00.0", DeviceRole.REQUESTED), roles(lease));
  }

  @Test
  void allocate_nvSwitchInGpuGroup_isAForeignEndpointNotABridge() {
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate(gpus("vm-1", 1), TestHosts.nvSwitchInGpuGroup(), List.of()));

    assertTrue(e.getMessage().contains("0000:1a:00.0 [10de:22a3, class 0x068000]"), e.getMessage());
  }

  @Test
  void allocate_pfWithVfsEnabled_isNotACandidate() {
    AllocationRequest request = AllocationRequest.builder("vm-1")
        .selector(DeviceSelector.id(TestHost.H100)).count(2).build();

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate(request, TestHosts.sriov(), List.of()));

    assertTrue(e.getMessage().contains("physical function 0000:81:00.0 has 4 VFs enabled"),
        e.getMessage());
  }

  @Test
  void allocate_virtualFunction_recordsItsPhysicalFunction() {
    AllocationRequest request = AllocationRequest.builder("vm-1")
        .selector(DeviceSelector.id(new PciId(0x10de, 0x2331))).build();

    Lease lease = allocate(request, TestHosts.sriov(), List.of());

    assertEquals(Optional.of(PciAddress.parse("0000:81:00.0")),
        lease.requestedDevices().get(0).physicalFunction());
  }

  @Test
  void allocate_device_recordsDriverBarsAndNumaAsTheyWere() {
    Topology host = TestHosts.hgxB200();
    Lease lease = allocate(gpus("vm-1", 1), host, List.of());
    LeasedDevice d = lease.requestedDevices().get(0);
    PciDevice onHost = host.require(d.address());

    assertEquals(List.of(Optional.of("nvidia"), onHost.bars(), onHost.numaNode(), onHost.id()),
        List.of(d.originalDriver(), d.bars(), d.numaNode(), d.id()));
  }

  @Test
  void allocate_numaBestFit_takesTheNodeWithFewestFreeThatFits() {
    Topology host = TestHosts.hgxB200();
    Lease first = allocate(gpus("vm-1", 1), host, List.of());

    Lease second = allocate(gpus("vm-2", 3), host, List.of(first));

    assertEquals(Set.of(first.numaNodes().first()), second.numaNodes());
  }

  @Test
  void allocate_noSingleNodeFits_spillsAndSaysSo() {
    Topology host = TestHosts.hgxB200();
    Lease first = allocate(gpus("vm-1", 1), host, List.of());

    Lease second = allocate(gpus("vm-2", 5), host, List.of(first));

    assertTrue(second.spansNumaNodes() && second.reasons().get(0).startsWith("spilled across"),
        second.reasons().toString());
  }

  @Test
  void allocate_withinNode_takesTheTightestSwitch() {
    Lease lease = allocate(gpus("vm-1", 2), TestHosts.switches(), List.of());

    assertEquals(List.of(5, 6), lease.groupNumbers());
  }

  @Test
  void allocate_threeGpus_takesTheSmallerNodeThenTheSwitchThatHoldsThem() {
    // node 0 has 6 free (switches of 4 and 2), node 1 has 7: node 0, switch A
    Lease lease = allocate(gpus("vm-1", 3), TestHosts.switches(), List.of());

    assertEquals(List.of(1, 2, 3), lease.groupNumbers());
  }

  @Test
  void allocate_samePcieSwitch_prefersAWholeSwitchOverNumaBestFit() {
    Topology host = TestHosts.switches();
    List<Lease> leases = new ArrayList<>();
    // node 0 left with 1 free on switch A and 2 on switch B; node 1 with 4 on C and 3 on D
    leases.add(Allocator.allocate(AllocationRequest.builder("x").count(3)
        .selector(DeviceSelector.addresses(List.of(PciAddress.parse("0000:13:00.0"),
            PciAddress.parse("0000:14:00.0"), PciAddress.parse("0000:15:00.0")))).build(),
        host, leases, NOW));
    AllocationRequest sameNuma = AllocationRequest.builder("vm-1").count(3).build();
    AllocationRequest sameSwitch = AllocationRequest.builder("vm-1").count(3)
        .placement(Placement.SAME_PCIE_SWITCH).build();

    List<List<Integer>> chosen = List.of(allocate(sameNuma, host, leases).groupNumbers(),
        allocate(sameSwitch, host, leases).groupNumbers());

    assertEquals(List.of(List.of(4, 5, 6), List.of(11, 12, 13)), chosen);
  }

  @Test
  void allocate_spread_usesBothNodesEvenly() {
    AllocationRequest request = AllocationRequest.builder("vm-1").count(4)
        .placement(Placement.SPREAD).build();

    Lease lease = allocate(request, TestHosts.hgxB200(), List.of());

    assertEquals(2, lease.requestedDevices().stream().filter(d -> d.numaNode() == 0).count());
  }

  @Test
  void allocate_spread_usesOneDevicePerSwitchWhenItCan() {
    AllocationRequest request = AllocationRequest.builder("vm-1").count(4)
        .placement(Placement.SPREAD).build();

    Lease lease = allocate(request, TestHosts.switches(), List.of());

    assertEquals(List.of(1, 5, 7, 11), lease.groupNumbers());
  }

  @Test
  void allocate_sameState_isDeterministic() {
    Topology host = TestHosts.switches();

    assertEquals(allocate(gpus("vm-1", 5), host, List.of()),
        allocate(gpus("vm-1", 5), host, List.of()));
  }

  @Test
  void allocate_leasedGroups_areNotCandidates() {
    Topology host = TestHosts.hgxB200();
    List<Lease> leases = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      leases.add(allocate(gpus("vm-" + i, 1), host, leases));
    }

    assertEquals(8, leases.stream().flatMap(l -> l.groupNumbers().stream()).distinct().count());
  }

  @Test
  void allocate_hostFull_refusesNamingTheLeases() {
    Topology host = TestHosts.hgxB200();
    Lease all = allocate(gpus("vm-1", 8), host, List.of());

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate(gpus("vm-2", 1), host, List.of(all)));

    assertTrue(e.getMessage().contains("leased: 8 to vm-1"), e.getMessage());
  }

  @Test
  void allocate_iommuOff_isRefusedWithTheKernelFix() {
    Topology host = new Topology("no IOMMU", TestHosts.hgxB200().devices().stream()
        .map(d -> d.toBuilder().noIommuGroup().build()).toList(), List.of());

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate(gpus("vm-1", 1), host, List.of()));

    assertTrue(e.getMessage().contains("intel_iommu=on"), e.getMessage());
  }

  @Test
  void allocate_byAddresses_takesExactlyThose() {
    AllocationRequest request = AllocationRequest.builder("vm-1").count(2)
        .selector(DeviceSelector.parse("0000:3d:00.0,0000:98:00.0")).build();

    Lease lease = allocate(request, TestHosts.hgxB200(), List.of());

    assertEquals(List.of(PciAddress.parse("0000:3d:00.0"), PciAddress.parse("0000:98:00.0")),
        lease.requestedDevices().stream().map(LeasedDevice::address).toList());
  }

  @Test
  void allocate_unknownAddress_isRefusedNamingIt() {
    AllocationRequest request = AllocationRequest.builder("vm-1")
        .selector(DeviceSelector.parse("0000:99:00.0")).build();

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate(request, TestHosts.hgxB200(), List.of()));

    assertTrue(e.getMessage().contains("0000:99:00.0 is not a device"), e.getMessage());
  }

  @Test
  void allocate_byId_ignoresOtherGpus() {
    Topology host = new TestHost("mixed")
        .bridge("0000:00:01.0", null, PciePortType.ROOT_PORT, 0)
        .gpu("0000:01:00.0", "0000:00:01.0", TestHost.H100, 0, 1)
        .bridge("0000:00:02.0", null, PciePortType.ROOT_PORT, 0)
        .gpu("0000:02:00.0", "0000:00:02.0", TestHost.B200, 0, 2)
        .build();
    AllocationRequest request = AllocationRequest.builder("vm-1")
        .selector(DeviceSelector.parse("10de:2901")).build();

    assertEquals(List.of(2), allocate(request, host, List.of()).groupNumbers());
  }

  @Test
  void allocate_lease_isAllocatedStateWithCreationTime() {
    Lease lease = allocate(gpus("vm-1", 1), TestHosts.hgxB200(), List.of());

    assertEquals(List.of(LeaseState.ALLOCATED, NOW), List.of(lease.state(), lease.createdAt()));
  }

  @Test
  void allocate_refusal_changesNoLease() {
    Topology host = TestHosts.hgxB200();
    List<Lease> leases = List.of(allocate(gpus("vm-1", 2), host, List.of()));
    List<Lease> before = List.copyOf(leases);

    assertThrows(AllocationRefusedException.class, () -> allocate(gpus("vm-2", 7), host, leases));

    assertEquals(before, leases);
  }
}
