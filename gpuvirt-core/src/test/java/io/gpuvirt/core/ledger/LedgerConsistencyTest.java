package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.B200FabricManager;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.alloc.TestHosts;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.ledger.Discrepancy.Kind;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.Topology;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** State that lies is flagged by reconcile and stops the operations that would act on it. */
final class LedgerConsistencyTest {
  private final Topology host = TestHosts.hgxB200();
  private final B200FabricManager fm = new B200FabricManager();

  @TempDir Path dir;

  private LeaseLedger ledger() {
    return LeaseLedger.open(dir, Clock.fixed(Instant.parse("2026-01-05T10:00:00Z"),
        ZoneOffset.UTC));
  }

  private PartitionContext partitions() {
    return new PartitionContext(fm, TestHosts.b200ModuleIds());
  }

  private static Set<Kind> kinds(ReconcileReport report) {
    return report.discrepancies().stream().map(Discrepancy::kind).collect(Collectors.toSet());
  }

  /** A Fabric Manager whose listing is whatever the test says. */
  private static FabricManager listing(List<FabricPartition> partitions) {
    return new FabricManager() {
      @Override public List<FabricPartition> listPartitions() {
        return partitions;
      }

      @Override public void activate(int id) {
        throw new AssertionError("activate " + id);
      }

      @Override public void deactivate(int id) {
        throw new AssertionError("deactivate " + id);
      }

      @Override public void setActivatedPartitions(Collection<Integer> ids) { }

      @Override public List<Integer> unsupportedPartitionIds() {
        return List.of();
      }

      @Override public NvlinkFailedDevices nvlinkFailedDevices() {
        return NvlinkFailedDevices.none();
      }

      @Override public void close() { }
    };
  }

  /** The B200 table with partitions 2 (modules 1-4) and 4 (modules 1,2) both active. */
  private List<FabricPartition> overlapping() {
    List<FabricPartition> out = new ArrayList<>();
    for (FabricPartition p : fm.listPartitions()) {
      out.add(p.id() == 2 || p.id() == 4 ? p.withActive(true) : p);
    }
    return out;
  }

  /** A bound partition lease whose partition id was edited to {@code id} in leases.json. */
  private Lease leaseEditedToPartition(int id) throws Exception {
    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(2).build(), host,
        partitions());
    ledger().updateState("vm-1", LeaseState.BOUND);
    ledger().compact(); // leases.json alone holds every lease before an edit by hand
    Path file = dir.resolve("leases.json");
    Files.writeString(file, Files.readString(file).replace("\"partition\" : "
        + lease.partitionId().getAsInt(), "\"partition\" : " + id));
    return ledger().lease("vm-1").orElseThrow();
  }

  @Test
  void reconcile_leaseNamingAPartitionFabricManagerDoesNotList_isFlagged() throws Exception {
    leaseEditedToPartition(999);

    ReconcileReport report = ledger().reconcile(host, fm, ReconcilePolicy.REPORT_ONLY);

    assertTrue(kinds(report).contains(Kind.LEASED_PARTITION_UNKNOWN), report.toString());
    assertFalse(report.consistent());
  }

  @Test
  void reconcile_leaseWhosePartitionHasOtherGpus_isFlaggedAsMismatch() throws Exception {
    Lease lease = leaseEditedToPartition(5); // modules 3,4; the lease holds two others
    fm.activate(5);

    ReconcileReport report = ledger().reconcile(host, fm, TestHosts.b200ModuleIds(),
        ReconcilePolicy.REPORT_ONLY);

    assertTrue(kinds(report).contains(Kind.LEASED_PARTITION_MISMATCH), report + " " + lease);
  }

  @Test
  void reconcile_overlappingActivePartitions_isFlaggedAndNeverRepaired() {
    ReconcileReport report = ledger().reconcile(host, listing(overlapping()),
        ReconcilePolicy.REPAIR);

    assertTrue(kinds(report).contains(Kind.FABRIC_LISTING_INCONSISTENT), report.toString());
    assertTrue(report.discrepancies().stream().noneMatch(Discrepancy::repaired));
  }

  @Test
  void reconcile_moduleIdMapSendingAModuleToANic_isFlagged() {
    Map<Integer, PciAddress> map = new TreeMap<>(TestHosts.b200ModuleIds().byModuleId());
    map.put(1, PciAddress.parse("0000:14:02.0")); // a root port, not a GPU

    ReconcileReport report = ledger().reconcile(host, fm, new ModuleIdMap(map),
        ReconcilePolicy.REPORT_ONLY);

    assertTrue(kinds(report).contains(Kind.MODULE_ID_MAP_INVALID), report.toString());
  }

  @Test
  void allocate_withOverlappingActivePartitions_isRefusedNamingThem() {
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> ledger().allocate(AllocationRequest.builder("vm-2").count(1).build(), host,
            new PartitionContext(listing(overlapping()), TestHosts.b200ModuleIds())));

    assertTrue(e.getMessage().contains("partitions 2 and 4 both active"), e.getMessage());
  }

  @Test
  void allocate_whileALeaseNamesAnUnknownPartition_isRefused() throws Exception {
    leaseEditedToPartition(999);

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> ledger().allocate(AllocationRequest.builder("vm-2").count(1).build(), host,
            partitions()));

    assertTrue(e.getMessage().contains("names partition 999"), e.getMessage());
  }

  @Test
  void allocate_withAModuleIdMapThatDoesNotFit_isRefused() {
    Map<Integer, PciAddress> map = new TreeMap<>(TestHosts.b200ModuleIds().byModuleId());
    map.put(1, PciAddress.parse("0000:14:02.0"));

    assertThrows(AllocationRefusedException.class, () -> ledger().allocate(
        AllocationRequest.builder("vm-2").count(1).build(), host,
        new PartitionContext(fm, new ModuleIdMap(map))));
    assertEquals(List.of(), ledger().leases());
  }

  @Test
  void disagreements_ofAConsistentLease_areNone() {
    ledger().allocate(AllocationRequest.builder("vm-1").count(2).build(), host, partitions());

    assertEquals(List.of(), ledger().disagreements("vm-1", host,
        java.util.Optional.of(fm), java.util.Optional.of(TestHosts.b200ModuleIds())));
  }

  /** A clock the test moves. */
  private static final class MovingClock extends Clock {
    private Instant now = Instant.parse("2026-01-05T10:00:00Z");

    @Override public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override public Instant instant() {
      return now;
    }
  }

  private static final AllocationOptions TEN_MINUTES = AllocationOptions.defaults()
      .withLifetime(Duration.ofMinutes(10));

  @Test
  void reservationWithALifetime_isKeptBeforeItsDeadline() {
    MovingClock clock = new MovingClock();
    LeaseLedger ledger = LeaseLedger.open(dir, clock);
    ledger.allocate(AllocationRequest.builder("vm-1").count(8).build(), host, TEN_MINUTES);
    clock.now = clock.now.plus(Duration.ofMinutes(9));

    assertEquals(List.of(), ledger.reclaimExpired());
    assertThrows(AllocationRefusedException.class, () -> ledger.allocate(
        AllocationRequest.builder("vm-2").count(1).build(), host));
  }

  @Test
  void reservationWithALifetime_isReclaimedByTheNextAllocationAfterItsDeadline() {
    MovingClock clock = new MovingClock();
    LeaseLedger ledger = LeaseLedger.open(dir, clock);
    ledger.allocate(AllocationRequest.builder("vm-1").count(8).build(), host, TEN_MINUTES);
    clock.now = clock.now.plus(Duration.ofMinutes(11));

    Lease next = ledger.allocate(AllocationRequest.builder("vm-2").count(8).build(), host);

    assertEquals(List.of("vm-2"), ledger.leases().stream().map(Lease::owner).toList(),
        next.toString());
  }

  @Test
  void reservationWithALifetime_isReclaimedExplicitlyAfterItsDeadline() {
    MovingClock clock = new MovingClock();
    LeaseLedger ledger = LeaseLedger.open(dir, clock);
    ledger.allocate(AllocationRequest.builder("vm-1").count(2).build(), host, TEN_MINUTES);
    clock.now = clock.now.plus(Duration.ofMinutes(11));

    assertEquals(List.of("vm-1"), ledger.reclaimExpired().stream().map(Lease::owner).toList());
    assertEquals(List.of(), ledger.leases());
  }

  @Test
  void reservationWithoutALifetime_neverExpires() {
    MovingClock clock = new MovingClock();
    LeaseLedger ledger = LeaseLedger.open(dir, clock);
    ledger.allocate(AllocationRequest.builder("vm-1").count(2).build(), host);
    clock.now = clock.now.plus(Duration.ofDays(400));

    assertEquals(List.of(), ledger.reclaimExpired());
  }

  @Test
  void boundLeaseWithAPassedDeadline_isNeverReclaimed() {
    MovingClock clock = new MovingClock();
    LeaseLedger ledger = LeaseLedger.open(dir, clock);
    ledger.allocate(AllocationRequest.builder("vm-1").count(2).build(), host, TEN_MINUTES);
    ledger.updateState("vm-1", LeaseState.BOUND);
    clock.now = clock.now.plus(Duration.ofHours(1));

    assertEquals(List.of(), ledger.reclaimExpired());
  }
}
