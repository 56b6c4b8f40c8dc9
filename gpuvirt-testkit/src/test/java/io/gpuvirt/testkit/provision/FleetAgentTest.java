package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fleet.Fleet;
import io.gpuvirt.core.fleet.FleetAgent;
import io.gpuvirt.core.fleet.FleetLease;
import io.gpuvirt.core.fleet.FleetRequest;
import io.gpuvirt.core.fleet.HostInventory;
import io.gpuvirt.core.fleet.InventoryGpu;
import io.gpuvirt.core.fleet.JdbcSchema;
import io.gpuvirt.core.fleet.StaleEpochException;
import io.gpuvirt.core.fleet.testing.TestPostgres;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciNames;
import io.gpuvirt.testkit.SimulatedHost;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The host agent on simulated HGX B200 hosts against a real PostgreSQL: it provisions what the
 * fleet assigned (the fleet's GPUs and partition, no others), tears down what the fleet released,
 * keeps the host as it is while the database is down, and a stale agent cannot act on a lease
 * that moved to another host.
 */
final class FleetAgentTest {
  private static final Duration ALIVE = Duration.ofMinutes(10);

  private DataSource db;
  private Fleet fleet;
  private SimulatedSite a;
  private SimulatedSite b;
  private HostSnapshot baselineA;

  @BeforeEach
  void fleetOfTwo() {
    db = TestPostgres.require().freshSchema();
    JdbcSchema.migrate(db);
    fleet = Fleet.open(db);
    a = SimulatedSite.partitioned(SimulatedHost.hgxB200());
    b = SimulatedSite.partitioned(SimulatedHost.hgxB200());
    baselineA = a.snapshot();
    fleet.publish(inventory("hgx-a", a));
    fleet.publish(inventory("hgx-b", b));
  }

  @AfterEach
  void close() {
    a.close();
    b.close();
  }

  private static HostInventory inventory(String name, SimulatedSite site) {
    try (FabricManager fm = site.fabric().connect()) {
      List<FabricPartition> partitions = fm.listPartitions();
      return HostInventory.of(name, site.scan(), PciNames.load(site.host().sysfs()),
          Optional.of(site.fabric().moduleIdMap()), partitions);
    }
  }

  private FleetAgent agent(String name, SimulatedSite site, Duration heartbeat) {
    return FleetAgent.builder(fleet, name, site.provisioner(), site.ledger())
        .heartbeat(heartbeat).build();
  }

  private FleetAgent agent(String name, SimulatedSite site) {
    return agent(name, site, ALIVE);
  }

  private static Set<PciAddress> gpus(FleetLease lease) {
    return lease.gpus().stream().map(InventoryGpu::address)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  private static Set<PciAddress> gpus(Lease lease) {
    return lease.requestedDevices().stream().map(LeasedDevice::address)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  @Test
  void reconcile_assignedLease_provisionsTheFleetsGpusAndPartitionAndReportsIt() {
    FleetAgent agentA = agent("hgx-a", a);
    agentA.reconcile(); // beats: hgx-a is the only live host
    FleetLease lease = fleet.allocate(FleetRequest.of("vm-42", 4));

    FleetAgent.Round round = agentA.reconcile();

    assertEquals(List.of("vm-42"), round.provisionedOwners(), round.toString());
    Lease local = a.ledger().lease("vm-42").orElseThrow();
    assertEquals(gpus(lease), gpus(local));
    assertEquals(lease.partitionId(), local.partitionId());
    assertEquals(List.of(lease.partitionId().getAsInt()), a.fabric().activePartitionIds());
    assertEquals(FleetLease.State.PROVISIONED, fleet.lease("vm-42").orElseThrow().state());
    assertEquals(List.of(), a.violations(baselineA));
  }

  @Test
  void reconcile_again_isSettledAndChangesNothing() {
    FleetAgent agentA = agent("hgx-a", a);
    agentA.reconcile();
    fleet.allocate(FleetRequest.of("vm-42", 2));
    agentA.reconcile();
    HostSnapshot before = a.snapshot();

    FleetAgent.Round again = agentA.reconcile();

    assertTrue(again.settled(), again.toString());
    assertEquals(List.of("vm-42"), again.unchanged());
    assertEquals(before, a.snapshot());
  }

  @Test
  void reconcile_afterTheFleetReleased_givesTheDevicesBack() {
    FleetAgent agentA = agent("hgx-a", a);
    agentA.reconcile();
    fleet.allocate(FleetRequest.of("vm-42", 8));
    agentA.reconcile();

    fleet.release("vm-42");
    FleetAgent.Round round = agentA.reconcile();

    assertEquals(Set.of("vm-42"), round.tornDown().keySet(), round.toString());
    assertEquals(List.of(), a.ledger().leases());
    assertEquals(List.of(), a.fabric().activePartitionIds());
    assertEquals(baselineA.devices(), a.snapshot().devices());
  }

  @Test
  void reconcile_databaseDown_changesNothingThenCatchesUpWhenItReturns() {
    FleetAgent agentA = agent("hgx-a", a);
    agentA.reconcile();
    fleet.allocate(FleetRequest.of("vm-1", 2));
    agentA.reconcile();
    fleet.allocate(FleetRequest.of("vm-2", 4));
    HostSnapshot before = a.snapshot();
    TestPostgres postgres = TestPostgres.require();

    FleetAgent.Round down;
    HostSnapshot after;
    postgres.stop();
    try {
      down = agentA.reconcile();
      after = a.snapshot();
    } finally {
      postgres.start();
    }
    FleetAgent.Round back = agentA.reconcile();

    assertFalse(down.reachable(), down.toString());
    assertEquals(before.leases(), after.leases(), "the leases changed while the database was down");
    assertEquals(before, after, "the host changed while the database was down");
    assertEquals(List.of("vm-2"), back.provisionedOwners(), back.toString());
    assertEquals(List.of("vm-1"), back.unchanged());
  }

  @Test
  void staleAgent_leaseMovedToAnotherHost_cannotActOnItAndGivesItsCopyBack()
      throws InterruptedException {
    FleetAgent agentA = agent("hgx-a", a, Duration.ofMillis(300));
    FleetAgent agentB = agent("hgx-b", b);
    agentA.reconcile();
    FleetLease old = fleet.allocate(FleetRequest.of("vm-7", 4));
    assertEquals("hgx-a", old.host());
    agentA.reconcile();
    // hgx-a is cut off: its heartbeat runs out, the platform moves vm-7 to hgx-b
    Thread.sleep(600);
    agentB.reconcile();
    fleet.release("vm-7");
    FleetLease moved = fleet.allocate(FleetRequest.of("vm-7", 4));
    assertEquals("hgx-b", moved.host());

    // what hgx-a's agent remembers is refused by the fleet
    assertThrows(StaleEpochException.class, () -> fleet.fence("hgx-a", "vm-7", old.epoch()));
    assertThrows(StaleEpochException.class,
        () -> fleet.releaseFenced("hgx-a", "vm-7", old.epoch()));
    assertThrows(StaleEpochException.class,
        () -> fleet.report("hgx-a", "vm-7", old.epoch(), FleetLease.State.PROVISIONED));
    // hgx-a comes back: it gives its copy back and leaves the new lease alone
    FleetAgent.Round back = agentA.reconcile();
    FleetAgent.Round onB = agentB.reconcile();

    assertEquals(Set.of("vm-7"), back.tornDown().keySet(), back.toString());
    assertEquals(List.of(), a.ledger().leases());
    assertEquals(List.of(), a.violations(baselineA));
    assertEquals(List.of("vm-7"), onB.provisionedOwners(), onB.toString());
    FleetLease now = fleet.lease("vm-7").orElseThrow();
    assertEquals("hgx-b", now.host());
    assertEquals(moved.epoch(), now.epoch());
    assertEquals(FleetLease.State.PROVISIONED, now.state());
  }

  @Test
  void reconcile_gpuInUseOutsideGpuvirt_reportsFailedAndChangesNothing() {
    FleetAgent agentA = agent("hgx-a", a);
    agentA.reconcile();
    FleetLease lease = fleet.allocate(FleetRequest.of("vm-42", 8));
    // someone bound a GPU of the partition to vfio-pci by hand: no lease holds it
    PciAddress taken = lease.gpus().get(3).address();
    String dev = "/sys/bus/pci/devices/" + taken;
    a.host().sysfs().write(dev + "/driver_override", "vfio-pci");
    a.host().sysfs().write(dev + "/driver/unbind", taken.toString());
    a.host().sysfs().write("/sys/bus/pci/drivers_probe", taken.toString());
    HostSnapshot before = a.snapshot();

    FleetAgent.Round round = agentA.reconcile();

    assertEquals(Set.of("vm-42"), round.failed().keySet(), round.toString());
    assertTrue(round.failed().get("vm-42").contains(taken.toString()), round.toString());
    assertEquals(FleetLease.State.FAILED, fleet.lease("vm-42").orElseThrow().state());
    assertEquals(before, a.snapshot());
  }

  @Test
  void reconcile_leaseOfOneGpu_provisionsThatGpuOnly() {
    FleetAgent agentA = agent("hgx-a", a);
    agentA.reconcile();
    FleetLease lease = fleet.allocate(FleetRequest.of("vm-1", 1));

    agentA.reconcile();

    assertEquals(gpus(lease), gpus(a.ledger().lease("vm-1").orElseThrow()));
    assertEquals(1, a.fabric().activePartitionIds().size());
  }
}
