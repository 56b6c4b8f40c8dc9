package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.RandomHosts;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Exhaustive, in one process: provisioning or teardown interrupted before each of its sysfs
 * writes (by an {@link Error} that unwinds the call the way a crash would, skipping every
 * rollback) is recovered by {@code recover()}: an interrupted provisioning is undone, an
 * interrupted teardown finished, and the host is exactly as before provisioning. The child-process
 * SIGKILL version of this is {@link CrashMatrixTest}.
 */
final class CrashAtEveryWriteTest {
  private static final String OWNER = "vm-crash";
  private static final int RANDOM_HOST_SEEDS = 8;

  @Test
  void crashBeforeAnyWrite_isRecovered_partitionMode() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      crashAtEveryWrite(site, AllocationRequest.builder(OWNER).count(2).build(), "hgx-b200");
    }
  }

  @Test
  void crashBeforeAnyWrite_isRecovered_randomHosts() {
    int tried = 0;
    for (long seed = 0; seed < RANDOM_HOST_SEEDS; seed++) {
      SplittableRandom rnd = new SplittableRandom(seed);
      HostProfile profile = RandomHosts.profile(rnd);
      try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.create(profile))) {
        AllocationRequest request = AllocationRequest.builder(OWNER)
            .count(1 + rnd.nextInt(Math.max(1, Math.min(profile.gpus().size(), 3)))).build();
        try {
          site.provisioner().provision(request);
          site.provisioner().teardown(OWNER);
        } catch (AllocationRefusedException | ProvisioningException e) {
          continue; // no GPU to give, or no vfio-pci: the fault matrix covers those
        }
        tried++;
        crashAtEveryWrite(site, request, "random host seed " + seed);
      }
    }
    assertTrue(tried > 0, "no random host could grant a request");
  }

  private static void crashAtEveryWrite(SimulatedSite site, AllocationRequest request,
      String label) {
    HostSnapshot before = site.snapshot();
    for (int n = 1; ; n++) {
      String what = label + ", provisioning crashed before write " + n;
      if (!crashed(site, n, p -> p.provision(request))) {
        site.provisioner().teardown(OWNER);
        break;
      }
      CrashMatrixTest.assertRecovered(site, before, what);
    }
    for (int n = 1; ; n++) {
      String what = label + ", teardown crashed before write " + n;
      site.provisioner().provision(request);
      if (!crashed(site, n, p -> p.teardown(OWNER))) {
        break;
      }
      CrashMatrixTest.assertRecovered(site, before, what);
    }
    HostSnapshot.assertUnchanged(before, site.snapshot(), label + ": at the end");
  }

  /** Runs {@code call} with a crash before write {@code n}; false if it made fewer writes. */
  private static boolean crashed(SimulatedSite site, int n, Consumer<Provisioner> call) {
    try {
      call.accept(site.provisioner(InterruptingSysfs.crashingAt(site.host().sysfs(), n)).build());
      return false;
    } catch (InterruptingSysfs.Crash expected) {
      return true;
    }
  }
}
