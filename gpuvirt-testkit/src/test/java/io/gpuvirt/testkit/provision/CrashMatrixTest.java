package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.RecoveryReport;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A provisioning process SIGKILLed at any step of provisioning or teardown, or between two sysfs
 * writes, leaves a host that {@code recover()} (run here, in another process) brings back to a
 * consistent state (invariant 4): an interrupted provisioning is undone, an interrupted teardown
 * finished. The child provisions 4 GPUs of a simulated HGX B200 in partition mode.
 */
final class CrashMatrixTest {
  private static final String OWNER = "vm-crash";
  private static final int GPUS = 4;
  private static final long SEED = 20260105;
  private static final int RANDOM_KILLS = 2;

  @TempDir
  Path logs;

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class,
      names = {"ALLOCATE", "RESET", "ACTIVATE_PARTITION", "BIND", "VERIFY", "COMMIT"})
  void killedAsAProvisioningStepStarts_recoveryUndoesIt(ProvisionStep step) throws Exception {
    provisionKilledAt(step.name());
  }

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class,
      names = {"RESTORE_DRIVERS", "DEACTIVATE_PARTITION", "RELEASE"})
  void killedAsATeardownStepStarts_recoveryFinishesIt(ProvisionStep step) throws Exception {
    teardownKilledAt(step.name());
  }

  @Test
  void killedBetweenSysfsWritesOfProvisioning_recoveryUndoesIt() throws Exception {
    SplittableRandom rnd = new SplittableRandom(SEED);
    int writes = writesOf(true);
    for (int i = 0; i < RANDOM_KILLS; i++) {
      provisionKilledAt("write:" + (1 + rnd.nextInt(writes)));
    }
  }

  @Test
  void killedBetweenSysfsWritesOfTeardown_recoveryFinishesIt() throws Exception {
    SplittableRandom rnd = new SplittableRandom(SEED + 1);
    int writes = writesOf(false);
    for (int i = 0; i < RANDOM_KILLS; i++) {
      teardownKilledAt("write:" + (1 + rnd.nextInt(writes)));
    }
  }

  private void provisionKilledAt(String stop) throws Exception {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot before = site.snapshot();
      ChildJvm child = ChildJvm.start(logs.resolve("provision-" + stop + ".log"),
          site.root().toString(), "partitions", "provision", OWNER, String.valueOf(GPUS), stop);
      child.awaitLine(ProvisionWorker.STOPPED + stop);
      child.kill();

      assertRecovered(site, before, "provisioning killed at " + stop);
    }
  }

  private void teardownKilledAt(String stop) throws Exception {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot before = site.snapshot();
      site.provisioner().provision(request());
      ChildJvm child = ChildJvm.start(logs.resolve("teardown-" + stop + ".log"),
          site.root().toString(), "partitions", "teardown", OWNER, stop);
      child.awaitLine(ProvisionWorker.STOPPED + stop);
      child.kill();

      assertRecovered(site, before, "teardown killed at " + stop);
    }
  }

  /** Recovery in this process: clean, invariant 4 holds, and the host is as before provisioning. */
  static void assertRecovered(SimulatedSite site, HostSnapshot before, String what) {
    RecoveryReport report = site.provisioner().recover();
    assertTrue(report.clean(), what + ": recovery failed: " + report.failures());
    assertEquals(java.util.List.of(), site.violations(before), what + ": after recovery "
        + report.actions());
    HostSnapshot.assertUnchanged(before, site.snapshot(), what + ": after recovery "
        + report.actions());
  }

  /** How many sysfs writes provisioning (or teardown) of the request makes on a fresh host. */
  private static int writesOf(boolean provisioning) {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      InterruptingSysfs counting = new InterruptingSysfs(site.host().sysfs(), -1, () -> { });
      var provisioner = site.provisioner(counting).build();
      provisioner.provision(request());
      int provisionWrites = counting.writes();
      provisioner.teardown(OWNER);
      return provisioning ? provisionWrites : counting.writes() - provisionWrites;
    }
  }

  private static AllocationRequest request() {
    return AllocationRequest.builder(OWNER).count(GPUS).build();
  }
}
