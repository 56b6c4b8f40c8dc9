package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.core.provision.RecoveryReport;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A lease record that disagrees with the host stops teardown before it changes anything, and a
 * reservation left by a provisioning that died right after allocating is reclaimed after its
 * deadline.
 */
final class LyingStateTest {
  private static final AllocationRequest ONE = AllocationRequest.builder("vm-1").count(1).build();

  private static Path ledgerFile(SimulatedSite site) {
    return site.ledger().file();
  }

  /** Edits leases.json by hand, as an operator would: the journal folded into it first. */
  private static void edit(SimulatedSite site, String from, String to) throws Exception {
    site.ledger().compact();
    String text = Files.readString(ledgerFile(site));
    assertTrue(text.contains(from), "the ledger holds " + from);
    Files.writeString(ledgerFile(site), text.replace(from, to));
  }

  @Test
  void teardown_ofALeaseNamingAnUnknownPartition_stopsAndChangesNothing() throws Exception {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Lease lease = site.provisioner().provision(ONE).lease();
      edit(site, "\"partition\" : " + lease.partitionId().getAsInt(), "\"partition\" : 999");
      HostSnapshot before = site.snapshot();

      ProvisioningException e = assertThrows(ProvisioningException.class,
          () -> site.provisioner().teardown("vm-1"));

      assertTrue(e.getMessage().contains("names partition 999"), e.getMessage());
      HostSnapshot.assertUnchanged(before, site.snapshot(), "stopped teardown");
      assertEquals(List.of(lease.partitionId().getAsInt()), site.fabric().activePartitionIds());
    }
  }

  @Test
  void teardown_ofALeaseWhoseDeviceWasSwappedForAFreeGpu_stopsAndChangesNothing()
      throws Exception {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      Lease lease = site.provisioner().provision(ONE).lease();
      PciAddress leased = lease.requestedDevices().get(0).address();
      PciAddress free = site.scan().gpus().stream().map(PciDevice::address)
          .filter(a -> !a.equals(leased)).findFirst().orElseThrow();
      edit(site, "\"address\" : \"" + leased + "\"", "\"address\" : \"" + free + "\"");
      HostSnapshot before = site.snapshot();

      ProvisioningException e = assertThrows(ProvisioningException.class,
          () -> site.provisioner().teardown("vm-1"));

      assertTrue(e.getMessage().contains("disagrees with the host"), e.getMessage());
      HostSnapshot.assertUnchanged(before, site.snapshot(), "stopped teardown");
      assertEquals(Optional.of("vfio-pci"), site.scan().require(leased).driver());
    }
  }

  /** The simulated Fabric Manager, except that its listing is empty. */
  private static FabricManager listingNothing(FabricManager real) {
    return new FabricManager() {
      @Override public List<FabricPartition> listPartitions() {
        return List.of();
      }

      @Override public void activate(int id) {
        real.activate(id);
      }

      @Override public void deactivate(int id) {
        real.deactivate(id);
      }

      @Override public void setActivatedPartitions(Collection<Integer> ids) {
        real.setActivatedPartitions(ids);
      }

      @Override public List<Integer> unsupportedPartitionIds() {
        return real.unsupportedPartitionIds();
      }

      @Override public NvlinkFailedDevices nvlinkFailedDevices() {
        return real.nvlinkFailedDevices();
      }

      @Override public void close() {
        real.close();
      }
    };
  }

  @Test
  void teardown_whileFabricManagerListsNoPartitions_stopsAndLeavesThePartitionActive() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Lease lease = site.provisioner().provision(ONE).lease();
      HostSnapshot before = site.snapshot();
      Provisioner blind = Provisioner.builder(site.host().sysfs(), site.ledger())
          .partitions(new PartitionContext(listingNothing(site.fabric().connect()),
              site.fabric().moduleIdMap()))
          .build();

      assertThrows(ProvisioningException.class, () -> blind.teardown("vm-1"));

      HostSnapshot.assertUnchanged(before, site.snapshot(), "stopped teardown");
      assertEquals(List.of(lease.partitionId().getAsInt()), site.fabric().activePartitionIds());
    }
  }

  /** Stands for the process dying: no rollback runs. */
  private static final class Died extends Error {
    private static final long serialVersionUID = 1L;
  }

  /** A clock the test moves. */
  private static final class MovingClock extends Clock {
    private Instant now = Instant.now();

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

  private static Provisioner provisioner(SimulatedSite site, LeaseLedger ledger,
      io.gpuvirt.core.provision.ProgressListener listener) {
    return Provisioner.builder(site.host().sysfs(), ledger)
        .partitions(new PartitionContext(site.fabric().connect(), site.fabric().moduleIdMap()))
        .reservationTimeout(Duration.ofMinutes(5)).listener(listener).build();
  }

  /** Provisioning that dies right after its lease was recorded (its intent: state BINDING). */
  private static void diesAfterAllocating(SimulatedSite site, LeaseLedger ledger) {
    Provisioner dying = provisioner(site, ledger, event -> {
      if (event.kind() == ProgressEvent.Kind.FINISHED
          && event.step() == io.gpuvirt.core.provision.ProvisionStep.ALLOCATE) {
        throw new Died();
      }
    });
    assertThrows(Died.class, () -> dying.provision(ONE));
  }

  /** A reservation as {@code gpuvirt allocate --expires-in 300} leaves it (state ALLOCATED). */
  private static void reserveForFiveMinutes(SimulatedSite site, LeaseLedger ledger) {
    ledger.allocate(ONE, site.scan(), io.gpuvirt.core.ledger.AllocationOptions.defaults()
        .withPartitions(new PartitionContext(site.fabric().connect(), site.fabric().moduleIdMap()))
        .withLifetime(Duration.ofMinutes(5)));
  }

  @Test
  void provisioningThatDiedRightAfterRecordingItsLease_isRolledBackByRecoveryAtOnce() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot before = site.snapshot();
      MovingClock clock = new MovingClock();
      LeaseLedger ledger = LeaseLedger.open(site.ledger().stateDirectory(), clock);
      diesAfterAllocating(site, ledger);
      LeaseState recorded = ledger.lease("vm-1").orElseThrow().state();

      RecoveryReport report = provisioner(site, ledger, e -> { }).recover();

      assertEquals(LeaseState.BINDING, recorded);
      assertTrue(report.clean() && report.actions().stream().anyMatch(a -> a.startsWith("vm-1:"
          + " rolled back the interrupted provisioning")), report.actions().toString());
      HostSnapshot.assertUnchanged(before, site.snapshot(), "after recovery");
    }
  }

  @Test
  void reservationWithADeadline_isKeptByRecoveryBeforeIt() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      MovingClock clock = new MovingClock();
      LeaseLedger ledger = LeaseLedger.open(site.ledger().stateDirectory(), clock);
      reserveForFiveMinutes(site, ledger);
      clock.now = clock.now.plus(Duration.ofMinutes(4));

      provisioner(site, ledger, e -> { }).recover();

      assertEquals(LeaseState.ALLOCATED, ledger.lease("vm-1").orElseThrow().state());
    }
  }

  @Test
  void reservationWithADeadline_isReclaimedByRecoveryAfterIt() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot before = site.snapshot();
      MovingClock clock = new MovingClock();
      LeaseLedger ledger = LeaseLedger.open(site.ledger().stateDirectory(), clock);
      reserveForFiveMinutes(site, ledger);
      assertTrue(ledger.lease("vm-1").orElseThrow().expiresAt().isPresent());
      clock.now = clock.now.plus(Duration.ofMinutes(6));

      RecoveryReport report = provisioner(site, ledger, e -> { }).recover();

      assertTrue(report.actions().stream().anyMatch(a -> a.startsWith("vm-1: released its"
          + " reservation")), report.actions().toString());
      HostSnapshot.assertUnchanged(before, site.snapshot(), "after recovery");
    }
  }

  @Test
  void provisionedLease_hasNoDeadline() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Lease lease = site.provisioner().provision(ONE).lease();

      assertEquals(Optional.empty(), lease.expiresAt());
    }
  }
}
