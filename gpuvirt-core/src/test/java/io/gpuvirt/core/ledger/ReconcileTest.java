package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.B200FabricManager;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.alloc.TestHost;
import io.gpuvirt.core.alloc.TestHosts;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.ledger.Discrepancy.Kind;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.Topology;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class ReconcileTest {
  @TempDir
  Path dir;

  private LeaseLedger ledger() {
    return LeaseLedger.open(dir);
  }

  /** The B200 host with {@code addresses} bound to {@code driver}. */
  private static Topology withDriver(String driver, List<PciAddress> addresses) {
    TestHost h = TestHosts.b200Builder();
    addresses.forEach(a -> h.modify(a.toString(), b -> b.driver(driver)));
    return h.build();
  }

  private static List<PciAddress> addresses(Lease lease) {
    return lease.requestedDevices().stream().map(LeasedDevice::address).toList();
  }

  private static Set<Kind> kinds(ReconcileReport report) {
    return report.discrepancies().stream().map(Discrepancy::kind).collect(Collectors.toSet());
  }

  @Test
  void reconcile_consistentHost_reportsNothing() {
    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(2).build(),
        TestHosts.hgxB200());
    ledger().updateState("vm-1", LeaseState.BOUND);

    ReconcileReport report = ledger().reconcile(withDriver("vfio-pci", addresses(lease)),
        ReconcilePolicy.REPORT_ONLY);

    assertEquals(List.of(), report.discrepancies());
  }

  @Test
  void reconcile_allocatedLeaseNotYetBound_isNotADiscrepancy() {
    ledger().allocate(AllocationRequest.builder("vm-1").count(2).build(), TestHosts.hgxB200());

    assertTrue(ledger().reconcile(TestHosts.hgxB200(), ReconcilePolicy.REPAIR).consistent());
  }

  @Test
  void reconcile_vfioGpuWithoutLease_isReportedAndNeverRepaired() {
    Topology host = withDriver("vfio-pci", List.of(PciAddress.parse("0000:98:00.0")));

    ReconcileReport report = ledger().reconcile(host, ReconcilePolicy.REPAIR);

    assertEquals(List.of("UNLEASED_VFIO_DEVICE 0000:98:00.0 false"), report.discrepancies()
        .stream().map(d -> d.kind() + " " + d.subject() + " " + d.repaired()).toList());
  }

  @Test
  void reconcile_boundLeaseOffVfio_reportOnlyKeepsTheLease() {
    ledger().allocate(AllocationRequest.builder("vm-1").count(1).build(), TestHosts.hgxB200());
    ledger().updateState("vm-1", LeaseState.BOUND);

    ReconcileReport report = ledger().reconcile(TestHosts.hgxB200(), ReconcilePolicy.REPORT_ONLY);

    assertEquals(List.of(Set.of(Kind.LEASED_DEVICE_NOT_ON_VFIO), 1),
        List.of(kinds(report), ledger().leases().size()));
  }

  @Test
  void reconcile_boundLeaseOffVfio_repairDropsTheLease() {
    ledger().allocate(AllocationRequest.builder("vm-1").count(1).build(), TestHosts.hgxB200());
    ledger().updateState("vm-1", LeaseState.BOUND);

    ReconcileReport report = ledger().reconcile(TestHosts.hgxB200(), ReconcilePolicy.REPAIR);

    assertEquals(List.of(true, 0), List.of(report.consistent(), ledger().leases().size()));
  }

  @Test
  void reconcile_leasedDeviceReplaced_isStale() {
    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(1).build(),
        TestHosts.hgxB200());
    Topology changed = TestHosts.b200Builder().modify(addresses(lease).get(0).toString(),
        b -> b.id(new PciId(0x10de, 0x2330))).build();

    assertEquals(Set.of(Kind.LEASED_DEVICE_MISSING),
        kinds(ledger().reconcile(changed, ReconcilePolicy.REPORT_ONLY)));
  }

  @Test
  void reconcile_boundLeaseWithOneDeviceReplacedAndOneOnVfio_repairKeepsTheLease() {
    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(2).build(),
        TestHosts.hgxB200());
    ledger().updateState("vm-1", LeaseState.BOUND);
    List<PciAddress> gpus = addresses(lease);
    Topology changed = TestHosts.b200Builder()
        .modify(gpus.get(0).toString(), b -> b.id(new PciId(0x10de, 0x2330)))
        .modify(gpus.get(1).toString(), b -> b.driver("vfio-pci")).build();

    ReconcileReport report = ledger().reconcile(changed, ReconcilePolicy.REPAIR);

    assertEquals(List.of(Set.of(Kind.LEASED_DEVICE_MISSING), 1, false),
        List.of(kinds(report), ledger().leases().size(), report.consistent()));
  }

  @Test
  void reconcile_leasedGroupGainedAMember_isStale() {
    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(1).build(),
        TestHosts.hgxB200());
    int group = lease.groupNumbers().get(0);
    Topology changed = TestHosts.b200Builder().inGroup("0000:14:02.0", group).build();

    assertEquals(Set.of(Kind.LEASED_GROUP_CHANGED),
        kinds(ledger().reconcile(changed, ReconcilePolicy.REPORT_ONLY)));
  }

  @Test
  void reconcile_activePartitionWithoutLease_repairDeactivatesIt() {
    B200FabricManager fm = new B200FabricManager();
    fm.activate(5);

    ReconcileReport report = ledger().reconcile(TestHosts.hgxB200(), fm, ReconcilePolicy.REPAIR);

    assertEquals(List.of(Set.of(Kind.UNLEASED_ACTIVE_PARTITION), true, false),
        List.of(kinds(report), report.consistent(),
            fm.listPartitions().stream().anyMatch(FabricPartition::active)));
  }

  @Test
  void reconcile_activePartitionWithLease_isConsistent() {
    B200FabricManager fm = new B200FabricManager();
    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(2).build(),
        TestHosts.hgxB200(), new PartitionContext(fm, TestHosts.b200ModuleIds()));
    fm.activate(lease.partitionId().getAsInt());
    ledger().updateState("vm-1", LeaseState.BOUND);

    ReconcileReport report = ledger().reconcile(withDriver("vfio-pci", addresses(lease)), fm,
        ReconcilePolicy.REPORT_ONLY);

    assertEquals(List.of(), report.discrepancies());
  }

  @Test
  void reconcile_boundLeaseWithInactivePartition_isReported() {
    B200FabricManager fm = new B200FabricManager();
    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(2).build(),
        TestHosts.hgxB200(), new PartitionContext(fm, TestHosts.b200ModuleIds()));
    ledger().updateState("vm-1", LeaseState.BOUND);

    ReconcileReport report = ledger().reconcile(withDriver("vfio-pci", addresses(lease)), fm,
        ReconcilePolicy.REPAIR);

    assertEquals(Set.of(Kind.LEASED_PARTITION_INACTIVE), kinds(report));
  }
}
