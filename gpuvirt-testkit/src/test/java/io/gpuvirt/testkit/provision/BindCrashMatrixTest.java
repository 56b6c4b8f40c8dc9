package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.RecoveryReport;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.FabricPhase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The crash matrix of {@link CrashMatrixTest} for manual bindings and for Fabric Manager restarts:
 *
 * <ul>
 *   <li>a child JVM binding two GPUs of a simulated HGX B200 (a lease of origin BIND), with and
 *       without reset, SIGKILLed as each step starts or before a random sysfs write: recovery in
 *       this process leaves the host as before the bind;
 *   <li>a child JVM restoring such a binding, killed the same way: recovery finishes the restore,
 *       and the host is as before the bind;
 *   <li>a child JVM provisioning in partition mode, stopped as each step starts while Fabric
 *       Manager restarts in resiliency mode, then killed: recovery tells Fabric Manager the
 *       leased partitions, rolls the provisioning back, and nothing is left active or bound.
 * </ul>
 *
 * One of the bound GPUs has a {@code driver_override} pinned to its driver before the bind, which
 * must be back after recovery.
 */
final class BindCrashMatrixTest {
  private static final String OWNER = "manual-crash";
  private static final String VM = "vm-fm-restart";
  private static final long SEED = 20261203;
  private static final int RANDOM_KILLS = 2;

  @TempDir
  Path logs;

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class, names = {"ALLOCATE", "RESET", "BIND", "VERIFY", "COMMIT"})
  void bindWithResetKilledAsAStepStarts_recoveryUndoesIt(ProvisionStep step) throws Exception {
    bindKilledAt(step.name(), true);
  }

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class, names = {"ALLOCATE", "BIND", "VERIFY", "COMMIT"})
  void bindWithoutResetKilledAsAStepStarts_recoveryUndoesIt(ProvisionStep step) throws Exception {
    bindKilledAt(step.name(), false);
  }

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class, names = {"RESTORE_DRIVERS", "RELEASE"})
  void restoreKilledAsAStepStarts_recoveryFinishesIt(ProvisionStep step) throws Exception {
    restoreKilledAt(step.name());
  }

  @Test
  void bindKilledBetweenSysfsWrites_recoveryUndoesIt() throws Exception {
    SplittableRandom rnd = new SplittableRandom(SEED);
    int[] writes = writesOfBindAndRestore();
    for (int i = 0; i < RANDOM_KILLS; i++) {
      bindKilledAt("write:" + (1 + rnd.nextInt(writes[0])), true);
    }
  }

  @Test
  void restoreKilledBetweenSysfsWrites_recoveryFinishesIt() throws Exception {
    SplittableRandom rnd = new SplittableRandom(SEED + 1);
    int[] writes = writesOfBindAndRestore();
    for (int i = 0; i < RANDOM_KILLS; i++) {
      restoreKilledAt("write:" + (1 + rnd.nextInt(writes[1])));
    }
  }

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class,
      names = {"ALLOCATE", "RESET", "ACTIVATE_PARTITION", "BIND", "VERIFY", "COMMIT"})
  void fabricManagerRestartsWhileAProvisioningIsKilled_recoveryResyncsAndUndoesIt(
      ProvisionStep step) throws Exception {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot before = site.snapshot();
      String what = "provisioning killed at " + step + " while Fabric Manager restarted";
      ChildJvm child = ChildJvm.start(logs.resolve("fm-" + step + ".log"),
          site.root().toString(), "partitions", "provision", VM, "2", step.name());
      child.awaitLine(ProvisionWorker.STOPPED + step);
      List<Integer> activeAtCrash = site.fabric().activePartitionIds();
      site.fabric().restartInResiliencyMode(Duration.ofMinutes(10));
      child.kill();
      List<Integer> leasedAtCrash = site.ledger().leases().stream()
          .filter(l -> l.partitionId().isPresent()).map(l -> l.partitionId().getAsInt())
          .toList();
      List<List<Integer>> told = new ArrayList<>();
      RecoveryReport report;
      try (FabricManager fm = recording(site.fabric().connect(), told)) {
        report = site.provisioner(site.host().sysfs())
            .partitions(new PartitionContext(fm, site.fabric().moduleIdMap())).build().recover();
      }

      assertTrue(report.clean(), what + ": recovery failed: " + report.failures());
      assertEquals(FabricPhase.RUNNING, site.fabric().phase(), what + ": Fabric Manager still"
          + " waits for the activated list after recovery " + report.actions());
      assertEquals(1, told.size(), what + ": Fabric Manager was told the active partitions "
          + told.size() + " times, not once: " + told);
      List<Integer> expected = activeAtCrash.stream().filter(leasedAtCrash::contains).toList();
      assertTrue(told.get(0).containsAll(expected) && leasedAtCrash.containsAll(told.get(0)),
          what + ": Fabric Manager was told " + told.get(0) + " are active; the partitions"
          + " active at the crash were " + activeAtCrash + ", those the leases held "
          + leasedAtCrash);
      assertEquals(List.of(), site.violations(before), what + ": after recovery "
          + report.actions());
      HostSnapshot.assertUnchanged(before, site.snapshot(), what + ": after recovery "
          + report.actions());
    }
  }

  /** A Fabric Manager client that records each list of active partitions it is told. */
  private static FabricManager recording(FabricManager fm, List<List<Integer>> told) {
    return new FabricManager() {
      @Override
      public List<FabricPartition> listPartitions() {
        return fm.listPartitions();
      }

      @Override
      public void activate(int partitionId) {
        fm.activate(partitionId);
      }

      @Override
      public void deactivate(int partitionId) {
        fm.deactivate(partitionId);
      }

      @Override
      public void setActivatedPartitions(Collection<Integer> partitionIds) {
        told.add(List.copyOf(partitionIds));
        fm.setActivatedPartitions(partitionIds);
      }

      @Override
      public List<Integer> unsupportedPartitionIds() {
        return fm.unsupportedPartitionIds();
      }

      @Override
      public void close() {
        fm.close();
      }
    };
  }

  private void bindKilledAt(String stop, boolean reset) throws Exception {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      List<PciAddress> devices = devicesToBind(site);
      HostSnapshot before = site.snapshot();
      ChildJvm child = ChildJvm.start(logs.resolve("bind-" + stop + "-" + reset + ".log"),
          site.root().toString(), "groups", "bind", OWNER, reset ? "reset" : "noreset",
          join(devices), stop);
      child.awaitLine(ProvisionWorker.STOPPED + stop);
      child.kill();

      CrashMatrixTest.assertRecovered(site, before, "bind" + (reset ? " --reset" : "")
          + " killed at " + stop);
    }
  }

  private void restoreKilledAt(String stop) throws Exception {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      List<PciAddress> devices = devicesToBind(site);
      HostSnapshot before = site.snapshot();
      var lease = site.provisioner().bind(OWNER, Operation.bindRequest("reset", join(devices)))
          .lease();
      assertEquals(LeaseOrigin.BIND, lease.origin());
      assertEquals(LeaseState.BOUND, lease.state());
      ChildJvm child = ChildJvm.start(logs.resolve("restore-" + stop + ".log"),
          site.root().toString(), "groups", "restore", devices.get(0).toString(), stop);
      child.awaitLine(ProvisionWorker.STOPPED + stop);
      child.kill();

      CrashMatrixTest.assertRecovered(site, before, "restore killed at " + stop);
    }
  }

  /**
   * The endpoints of the groups of the host's first two GPUs; the first GPU gets a
   * driver_override pinned to its driver, as an admin would.
   */
  private static List<PciAddress> devicesToBind(SimulatedSite site) {
    Topology topology = site.scan();
    List<PciDevice> gpus = topology.gpus();
    PciDevice pinned = gpus.get(0);
    site.host().sysfs().write(pinned.address().sysfsPath("driver_override"),
        pinned.driver().orElseThrow());
    List<PciAddress> devices = new ArrayList<>(
        OwnershipPropertyTest.groupEndpoints(topology, gpus.get(0).address()));
    devices.addAll(OwnershipPropertyTest.groupEndpoints(topology, gpus.get(1).address()));
    return devices;
  }

  /** How many sysfs writes the bind (with reset) and the restore make on a fresh host. */
  private static int[] writesOfBindAndRestore() {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      List<PciAddress> devices = devicesToBind(site);
      InterruptingSysfs counting = new InterruptingSysfs(site.host().sysfs(), -1, () -> { });
      var provisioner = site.provisioner(counting).build();
      provisioner.bind(OWNER, Operation.bindRequest("reset", join(devices)));
      int bindWrites = counting.writes();
      provisioner.restore(devices);
      return new int[] {bindWrites, counting.writes() - bindWrites};
    }
  }

  private static String join(List<PciAddress> devices) {
    return String.join(",", devices.stream().map(PciAddress::toString).toList());
  }
}
