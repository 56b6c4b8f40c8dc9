package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.alloc.B200FabricManager;
import io.gpuvirt.core.alloc.TestHosts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.Topology;
import java.time.Instant;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

final class PartitionAllocationTest {
  private static final Instant NOW = Instant.parse("2026-01-05T10:00:00Z");
  private final Topology host = TestHosts.hgxB200();
  private final B200FabricManager fm = new B200FabricManager();
  private final PartitionContext context = new PartitionContext(fm, TestHosts.b200ModuleIds());

  private Lease allocate(String owner, int n, List<Lease> leases) {
    return Allocator.allocate(AllocationRequest.builder(owner).count(n).build(), host, leases,
        context, NOW);
  }

  @Test
  void allocate_eightGpus_takesPartitionOne() {
    assertEquals(OptionalInt.of(1), allocate("vm-1", 8, List.of()).partitionId());
  }

  @Test
  void allocate_twoGpus_mapsModuleIdsNotPciOrder() {
    Lease lease = allocate("vm-1", 2, List.of());

    // partition 4 = modules 1 and 2 = GPUs 17:00.0 and 60:00.0 (not the first two in PCI order)
    assertEquals(List.of(PciAddress.parse("0000:17:00.0"), PciAddress.parse("0000:60:00.0")),
        lease.requestedDevices().stream().map(LeasedDevice::address).toList());
  }

  @Test
  void allocate_gpusOfPartition_carryTheirModuleIds() {
    Lease lease = allocate("vm-1", 2, List.of());

    assertEquals(List.of(OptionalInt.of(1), OptionalInt.of(2)),
        lease.requestedDevices().stream().map(LeasedDevice::moduleId).toList());
  }

  @Test
  void allocate_oneGpuWithModuleSevenActive_takesItsSiblingNotTheLowestId() {
    fm.activate(14);

    Lease lease = allocate("vm-1", 1, List.of());

    assertEquals(OptionalInt.of(15), lease.partitionId());
  }

  @Test
  void allocate_bestFitOverLowestId_saysWhatTheLowestIdWouldHaveCost() {
    fm.activate(14);

    Lease lease = allocate("vm-1", 1, List.of());

    assertTrue(lease.reasons().get(1).startsWith("the lowest-id free partition, 8,"),
        lease.reasons().toString());
  }

  @Test
  void allocate_neverOverlapsAnActivePartition() {
    fm.activate(2);

    Lease lease = allocate("vm-1", 4, List.of());

    assertEquals(OptionalInt.of(3), lease.partitionId());
  }

  @Test
  void allocate_neverOverlapsALeasedPartition() {
    Lease first = allocate("vm-1", 2, List.of());

    Lease second = allocate("vm-2", 4, List.of(first));

    assertEquals(OptionalInt.of(3), second.partitionId());
  }

  @Test
  void allocate_noPartitionOfThatSize_isRefusedListingTheSizes() {
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate("vm-1", 3, List.of()));

    assertTrue(e.getMessage().contains("sizes offered: 1, 2, 4, 8"), e.getMessage());
  }

  @Test
  void allocate_allPartitionsOfSizeBusy_isRefusedNamingEach() {
    fm.activate(2);
    fm.activate(3);

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> allocate("vm-1", 4, List.of()));

    assertTrue(e.getMessage().contains("partition 2 [1, 2, 3, 4]: already active"), e.getMessage());
  }

  @Test
  void allocate_unsupportedPartition_isSkipped() {
    fm.unsupported(2);

    assertEquals(OptionalInt.of(3), allocate("vm-1", 4, List.of()).partitionId());
  }
}
