package io.gpuvirt.core.fleet;

import io.gpuvirt.core.fleet.testing.TestPostgres;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.pci.PciId;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class FleetTest {
  private static final Duration ALIVE = Duration.ofMinutes(10);
  private DataSource db;
  private Fleet fleet;

  @BeforeEach
  void database() {
    db = TestPostgres.require().freshSchema();
    JdbcSchema.migrate(db);
    fleet = Fleet.open(db);
  }

  private void live(HostInventory inventory) {
    fleet.publish(inventory);
    fleet.heartbeat(inventory.host(), ALIVE);
  }

  private static Set<Integer> modules(FleetLease lease) {
    return lease.gpus().stream().map(g -> g.moduleId().getAsInt()).collect(Collectors.toSet());
  }

  @Test
  void allocate_b200Host_getsOnePartitionOfTheSizeWithItsGpus() throws Exception {
    live(Inventories.b200("hgx-1"));

    FleetLease lease = fleet.allocate(FleetRequest.of("vm-42", 4));

    assertEquals("hgx-1", lease.host());
    assertEquals(4, lease.gpus().size());
    assertTrue(Set.of(2, 3).contains(lease.partitionId().getAsInt()), lease.toString());
    assertEquals(List.of(), FleetAudit.problems(db));
  }

  @Test
  void allocate_twoSingleGpus_takeOnePairAndKeepTheOtherHalfWhole() {
    live(Inventories.b200("hgx-1"));

    FleetLease a = fleet.allocate(FleetRequest.of("vm-a", 1));
    FleetLease b = fleet.allocate(FleetRequest.of("vm-b", 1));
    FleetLease four = fleet.allocate(FleetRequest.of("vm-c", 4));

    assertEquals(Set.of(1, 2), union(modules(a), modules(b)));
    assertEquals(OptionalInt.of(3), four.partitionId());
  }

  private static Set<Integer> union(Set<Integer> a, Set<Integer> b) {
    return java.util.stream.Stream.concat(a.stream(), b.stream()).collect(Collectors.toSet());
  }

  @Test
  void allocate_sameOwnerTwice_returnsTheSameLease() {
    live(Inventories.b200("hgx-1"));

    FleetLease first = fleet.allocate(FleetRequest.of("vm-42", 2));
    FleetLease again = fleet.allocate(FleetRequest.of("vm-42", 2));

    assertEquals(first, again);
    assertEquals(1, fleet.leases().size());
  }

  @Test
  void allocate_sameOwnerOtherSize_isRefused() {
    live(Inventories.b200("hgx-1"));
    fleet.allocate(FleetRequest.of("vm-42", 2));

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> fleet.allocate(FleetRequest.of("vm-42", 4)));

    assertTrue(e.getMessage().contains("release it first"), e.getMessage());
  }

  @Test
  void allocate_hostThatNeverBeat_isNeverChosen() {
    fleet.publish(Inventories.b200("hgx-silent"));

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> fleet.allocate(FleetRequest.of("vm-42", 1)));

    assertTrue(e.getMessage().contains("0 of 1 hosts live"), e.getMessage());
  }

  @Test
  void allocate_fullFleet_isRefusedAndChangesNothing() throws Exception {
    live(Inventories.b200("hgx-1"));
    fleet.allocate(FleetRequest.of("vm-big", 8));

    assertThrows(AllocationRefusedException.class,
        () -> fleet.allocate(FleetRequest.of("vm-42", 1)));

    assertEquals(List.of("vm-big"), fleet.leases().stream().map(FleetLease::owner).toList());
    assertEquals(List.of(), FleetAudit.problems(db));
  }

  @Test
  void allocate_sizeNoPartitionHas_isRefused() {
    live(Inventories.b200("hgx-1"));

    assertThrows(AllocationRefusedException.class,
        () -> fleet.allocate(FleetRequest.of("vm-42", 3)));
  }

  @Test
  void allocate_hostPastItsDeadline_isNotChosenAndMarkedLostWithItsLeasesKept()
      throws Exception {
    fleet.publish(Inventories.b200("hgx-1"));
    fleet.heartbeat("hgx-1", Duration.ofMillis(300));
    FleetLease held = fleet.allocate(FleetRequest.of("vm-1", 2));
    Thread.sleep(400);

    assertThrows(AllocationRefusedException.class,
        () -> fleet.allocate(FleetRequest.of("vm-2", 2)));
    assertEquals(List.of("hgx-1"), fleet.markLost());
    assertTrue(fleet.hosts().get(0).lost());
    assertEquals(List.of(held), fleet.leases());
  }

  @Test
  void heartbeat_lostHost_makesItAllocatableAgain() {
    fleet.publish(Inventories.b200("hgx-1"));
    fleet.markLost();

    fleet.heartbeat("hgx-1", ALIVE);

    assertEquals("hgx-1", fleet.allocate(FleetRequest.of("vm-1", 1)).host());
  }

  @Test
  void heartbeat_unknownHost_saysToRegister() {
    FleetException e = assertThrows(FleetException.class,
        () -> fleet.heartbeat("nobody", ALIVE));

    assertTrue(e.getMessage().contains("register"), e.getMessage());
  }

  @Test
  void allocate_plainHost_takesTheTightestNumaNode() {
    live(Inventories.plain("pcie-1", 4, 4));

    FleetLease a = fleet.allocate(FleetRequest.of("vm-a", 2));
    FleetLease b = fleet.allocate(FleetRequest.of("vm-b", 2));
    FleetLease c = fleet.allocate(FleetRequest.of("vm-c", 4));

    assertEquals(Set.of(0), nodes(a));
    assertEquals(Set.of(0), nodes(b));
    assertEquals(Set.of(1), nodes(c));
  }

  private static Set<Integer> nodes(FleetLease lease) {
    return lease.gpus().stream().map(InventoryGpu::numaNode).collect(Collectors.toSet());
  }

  @Test
  void allocate_twoHosts_fillsTheFullerHostFirst() {
    live(Inventories.plain("pcie-1", 4, 4));
    live(Inventories.plain("pcie-2", 4, 4));
    String first = fleet.allocate(FleetRequest.of("vm-a", 2)).host();

    String second = fleet.allocate(FleetRequest.of("vm-b", 2)).host();

    assertEquals(first, second);
  }

  @Test
  void allocate_model_onlyOnHostsWithThatModel() {
    live(Inventories.plain("pcie-1", 8));
    live(Inventories.b200("hgx-1"));

    FleetLease lease = fleet.allocate(FleetRequest.of("vm-a", 2)
        .withModel(PciId.parse("10de:2901")));

    assertEquals("hgx-1", lease.host());
  }

  @Test
  void release_freesTheGpusForTheNextRequest() throws Exception {
    live(Inventories.b200("hgx-1"));
    fleet.allocate(FleetRequest.of("vm-big", 8));

    assertTrue(fleet.release("vm-big").isPresent());

    assertEquals(8, fleet.allocate(FleetRequest.of("vm-next", 8)).gpus().size());
    assertEquals(List.of(), FleetAudit.problems(db));
  }

  @Test
  void release_ownerWithoutLease_changesNothing() {
    assertTrue(fleet.release("vm-none").isEmpty());
  }

  @Test
  void fence_currentEpoch_returnsTheLease() {
    live(Inventories.b200("hgx-1"));
    FleetLease lease = fleet.allocate(FleetRequest.of("vm-1", 2));

    assertEquals(lease, fleet.fence("hgx-1", "vm-1", lease.epoch()));
  }

  @Test
  void staleAgent_leaseMovedToAnotherHost_cannotProvisionReportOrTearDown() {
    live(Inventories.b200("hgx-1"));
    FleetLease old = fleet.allocate(FleetRequest.of("vm-1", 8));
    fleet.heartbeat("hgx-1", Duration.ofMillis(1));
    live(Inventories.b200("hgx-2"));
    fleet.release("vm-1");
    FleetLease moved = fleet.allocate(FleetRequest.of("vm-1", 8));

    assertEquals("hgx-2", moved.host());
    assertTrue(moved.epoch() > old.epoch());
    StaleEpochException e = assertThrows(StaleEpochException.class,
        () -> fleet.fence("hgx-1", "vm-1", old.epoch()));
    assertTrue(e.getMessage().contains("hgx-2"), e.getMessage());
    assertThrows(StaleEpochException.class,
        () -> fleet.report("hgx-1", "vm-1", old.epoch(), FleetLease.State.PROVISIONED));
    assertThrows(StaleEpochException.class,
        () -> fleet.releaseFenced("hgx-1", "vm-1", old.epoch()));
    assertEquals(List.of(moved), fleet.leases());
  }

  @Test
  void report_currentEpoch_recordsTheState() {
    live(Inventories.b200("hgx-1"));
    FleetLease lease = fleet.allocate(FleetRequest.of("vm-1", 2));

    fleet.report("hgx-1", "vm-1", lease.epoch(), FleetLease.State.PROVISIONED);

    assertEquals(FleetLease.State.PROVISIONED, fleet.lease("vm-1").orElseThrow().state());
    assertEquals(List.of(fleet.lease("vm-1").orElseThrow()), fleet.assignments("hgx-1"));
  }

  @Test
  void releaseFenced_currentEpoch_releases() {
    live(Inventories.b200("hgx-1"));
    FleetLease lease = fleet.allocate(FleetRequest.of("vm-1", 2));

    fleet.releaseFenced("hgx-1", "vm-1", lease.epoch());

    assertTrue(fleet.leases().isEmpty());
  }

  @Test
  void publish_sameInventoryAgain_changesNothing() {
    assertTrue(fleet.publish(Inventories.b200("hgx-1")).changed());

    assertFalse(fleet.publish(Inventories.b200("hgx-1")).changed());
  }

  @Test
  void publish_changedInventory_replacesFreeGpusAndKeepsLeasedOnes() throws Exception {
    live(Inventories.plain("pcie-1", 2, 2));
    FleetLease held = fleet.allocate(FleetRequest.of("vm-1", 2));

    Fleet.PublishResult r = fleet.publish(Inventories.plain("pcie-1", 1));

    // vm-1 holds 10:00.0 and 11:00.0 (NUMA node 0); the new inventory has 10:00.0 only
    assertEquals(List.of("GPU 0000:11:00.0 (leased to vm-1)"), r.keptLeased());
    FleetHost host = fleet.hosts().get(0);
    assertEquals(2, host.gpus(), host.toString());
    assertEquals(List.of(held), fleet.leases());
    assertEquals(List.of(), FleetAudit.problems(db));
  }

  @Test
  void inventory_twoGpusInOneGroup_isRefused() {
    HostInventory plain = Inventories.plain("pcie-1", 2);
    List<InventoryGpu> gpus = List.of(plain.gpus().get(0), new InventoryGpu(
        plain.gpus().get(1).address(), plain.gpus().get(1).id(), "H100", 0,
        plain.gpus().get(0).iommuGroup(), OptionalInt.empty()));

    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> new HostInventory("pcie-1", gpus, List.of()));

    assertTrue(e.getMessage().contains("share IOMMU group"), e.getMessage());
  }

  @Test
  void open_withoutSchema_isRefused() {
    assertThrows(SchemaVersionException.class,
        () -> Fleet.open(TestPostgres.require().freshSchema()));
  }

  @Test
  void hosts_nameEachWithItsFreeSizes() {
    live(Inventories.b200("hgx-1"));
    fleet.allocate(FleetRequest.of("vm-1", 4));

    FleetHost host = fleet.hosts().get(0);

    assertEquals(List.of(1, 2, 4), host.freeSizes());
    assertNotEquals(0, host.partitions());
  }

  @Test
  void allocate_numaNode_takesOnlyGpusOnThatNode() {
    live(Inventories.plain("pcie-1", 4, 4));

    FleetLease lease = fleet.allocate(FleetRequest.of("vm-a", 2).withNumaNode(1));

    assertEquals(Set.of(1), nodes(lease));
  }

  @Test
  void allocate_numaNodeOnB200_takesAPartitionOnThatNodeOnly() {
    live(Inventories.b200("hgx-1"));

    FleetLease four = fleet.allocate(FleetRequest.of("vm-a", 4).withNumaNode(1));

    assertEquals(Set.of(1), nodes(four));
    assertEquals(OptionalInt.of(3), four.partitionId());
    assertThrows(AllocationRefusedException.class,
        () -> fleet.allocate(FleetRequest.of("vm-b", 1).withNumaNode(1)));
  }

  @Test
  void allocate_numaNodeNoHostHas_isRefusedNamingTheConstraint() {
    live(Inventories.plain("pcie-1", 4, 4));

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> fleet.allocate(FleetRequest.of("vm-a", 2).withNumaNode(2)));

    assertTrue(e.getMessage().contains("on NUMA node 2"), e.getMessage());
    assertEquals(List.of(), fleet.leases());
  }

  @Test
  void allocate_hosts_choosesOnlyAmongThem() {
    live(Inventories.plain("pcie-1", 4, 4));
    live(Inventories.plain("pcie-2", 4, 4));
    live(Inventories.plain("pcie-3", 4, 4));
    fleet.allocate(FleetRequest.of("vm-x", 2).withHosts(List.of("pcie-1")));

    FleetLease lease = fleet.allocate(FleetRequest.of("vm-a", 8)
        .withHosts(List.of("pcie-2", "pcie-3")));

    assertTrue(Set.of("pcie-2", "pcie-3").contains(lease.host()), lease.host());
    assertThrows(AllocationRefusedException.class,
        () -> fleet.allocate(FleetRequest.of("vm-b", 8).withHosts(List.of("pcie-1"))));
  }

  @Test
  void request_badHostName_isRefused() {
    assertThrows(InvalidValueException.class,
        () -> FleetRequest.of("vm-a", 2).withHosts(List.of("../etc")));
    assertThrows(InvalidValueException.class,
        () -> FleetRequest.of("vm-a", 2).withNumaNode(-1));
  }

  @Test
  void remove_freeHost_removesItsRowsAndItIsNeverChosen() throws Exception {
    live(Inventories.b200("hgx-1"));
    live(Inventories.b200("hgx-2"));

    assertTrue(fleet.remove("hgx-1"));

    assertEquals(List.of("hgx-2"), fleet.hosts().stream().map(FleetHost::name).toList());
    assertEquals("hgx-2", fleet.allocate(FleetRequest.of("vm-a", 8)).host());
    assertFalse(fleet.remove("hgx-1"), "a second removal changes nothing");
    assertEquals(List.of(), FleetAudit.problems(db));
  }

  @Test
  void remove_hostWithLease_isRefusedNamingTheOwner() {
    live(Inventories.b200("hgx-1"));
    fleet.allocate(FleetRequest.of("vm-42", 2));

    FleetException e = assertThrows(FleetException.class, () -> fleet.remove("hgx-1"));

    assertTrue(e.getMessage().contains("vm-42"), e.getMessage());
    assertEquals(1, fleet.hosts().size());
  }
}
