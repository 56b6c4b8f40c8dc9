package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.ProgressListener;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.RecoveryReport;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A provisioning process SIGKILLed at any step of provisioning or teardown, or between two sysfs
 * writes, leaves a host that {@code recover()} (run here, in another process) brings back to a
 * consistent state (invariant 4): an interrupted provisioning is undone, an interrupted teardown
 * finished. The child provisions 4 GPUs of a simulated HGX B200 in partition mode, or the four
 * GPUs of a simulated GB200 NVL4 (whole groups, on the Grace VFIO variant driver).
 */
final class CrashMatrixTest {
  private static final String OWNER = "vm-crash";
  private static final int GPUS = 4;
  private static final long SEED = 20260105;
  private static final int RANDOM_KILLS = 2;

  /** The hosts of the matrix: how to make one and the child's mode. */
  enum Host {
    HGX_B200(true) {
      @Override
      SimulatedSite create() {
        return SimulatedSite.partitioned(SimulatedHost.hgxB200());
      }
    },
    GB200_NVL4(false) {
      @Override
      SimulatedSite create() {
        return SimulatedSite.groups(SimulatedHost.create(HostProfile.gb200Nvl4()));
      }
    };

    private final boolean partitions;

    Host(boolean partitions) {
      this.partitions = partitions;
    }

    abstract SimulatedSite create();

    String mode() {
      return partitions ? "partitions" : "groups";
    }
  }

  @TempDir
  Path logs;

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class,
      names = {"ALLOCATE", "RESET", "ACTIVATE_PARTITION", "BIND", "VERIFY", "COMMIT"})
  void killedAsAProvisioningStepStarts_recoveryUndoesIt(ProvisionStep step) throws Exception {
    provisionKilledAt(Host.HGX_B200, step.name());
  }

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class,
      names = {"RESTORE_DRIVERS", "DEACTIVATE_PARTITION", "RELEASE"})
  void killedAsATeardownStepStarts_recoveryFinishesIt(ProvisionStep step) throws Exception {
    teardownKilledAt(Host.HGX_B200, step.name());
  }

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class, names = {"ALLOCATE", "RESET", "BIND", "VERIFY", "COMMIT"})
  void gb200_killedAsAProvisioningStepStarts_recoveryUndoesIt(ProvisionStep step)
      throws Exception {
    provisionKilledAt(Host.GB200_NVL4, step.name());
  }

  @ParameterizedTest
  @EnumSource(value = ProvisionStep.class, names = {"RESTORE_DRIVERS", "RELEASE"})
  void gb200_killedAsATeardownStepStarts_recoveryFinishesIt(ProvisionStep step) throws Exception {
    teardownKilledAt(Host.GB200_NVL4, step.name());
  }

  @ParameterizedTest
  @EnumSource(Host.class)
  void killedBetweenSysfsWritesOfProvisioning_recoveryUndoesIt(Host host) throws Exception {
    SplittableRandom rnd = new SplittableRandom(SEED + host.ordinal());
    int writes = writesOf(host, true);
    for (int i = 0; i < RANDOM_KILLS; i++) {
      provisionKilledAt(host, "write:" + (1 + rnd.nextInt(writes)));
    }
  }

  @ParameterizedTest
  @EnumSource(Host.class)
  void killedBetweenSysfsWritesOfTeardown_recoveryFinishesIt(Host host) throws Exception {
    SplittableRandom rnd = new SplittableRandom(SEED + 1 + host.ordinal());
    int writes = writesOf(host, false);
    for (int i = 0; i < RANDOM_KILLS; i++) {
      teardownKilledAt(host, "write:" + (1 + rnd.nextInt(writes)));
    }
  }

  @Test
  void gb200_stepsOfTheMatrix_areThoseItsProvisioningRuns() {
    List<ProvisionStep> started = new ArrayList<>();
    try (SimulatedSite site = Host.GB200_NVL4.create()) {
      ProgressListener recording = e -> {
        if (e.kind() == ProgressEvent.Kind.STARTED) {
          started.add(e.step());
        }
      };
      Provisioner p = site.provisioner(recording);
      p.provision(request());
      p.teardown(OWNER);
    }
    // No partition steps (no Fabric Manager on NVL4), no PLAN (no VM planner given); RESET runs
    // once per GPU.
    assertEquals(List.of(ProvisionStep.ALLOCATE, ProvisionStep.RESET, ProvisionStep.BIND,
        ProvisionStep.VERIFY, ProvisionStep.COMMIT, ProvisionStep.RESTORE_DRIVERS,
        ProvisionStep.RELEASE), started.stream().distinct().toList());
  }

  private void provisionKilledAt(Host host, String stop) throws Exception {
    try (SimulatedSite site = host.create()) {
      HostSnapshot before = site.snapshot();
      ChildJvm child = ChildJvm.start(logs.resolve(host + "-provision-" + stop + ".log"),
          site.root().toString(), host.mode(), "provision", OWNER, String.valueOf(GPUS), stop);
      child.awaitLine(ProvisionWorker.STOPPED + stop);
      child.kill();

      assertRecovered(site, before, host + ": provisioning killed at " + stop);
    }
  }

  private void teardownKilledAt(Host host, String stop) throws Exception {
    try (SimulatedSite site = host.create()) {
      HostSnapshot before = site.snapshot();
      site.provisioner().provision(request());
      ChildJvm child = ChildJvm.start(logs.resolve(host + "-teardown-" + stop + ".log"),
          site.root().toString(), host.mode(), "teardown", OWNER, stop);
      child.awaitLine(ProvisionWorker.STOPPED + stop);
      child.kill();

      assertRecovered(site, before, host + ": teardown killed at " + stop);
    }
  }

  /** Recovery in this process: clean, invariant 4 holds, and the host is as before provisioning. */
  static void assertRecovered(SimulatedSite site, HostSnapshot before, String what) {
    RecoveryReport report = site.provisioner().recover();
    assertTrue(report.clean(), what + ": recovery failed: " + report.failures());
    assertEquals(List.of(), site.violations(before), what + ": after recovery "
        + report.actions());
    HostSnapshot.assertUnchanged(before, site.snapshot(), what + ": after recovery "
        + report.actions());
  }

  /** How many sysfs writes provisioning (or teardown) of the request makes on a fresh host. */
  private static int writesOf(Host host, boolean provisioning) {
    try (SimulatedSite site = host.create()) {
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
