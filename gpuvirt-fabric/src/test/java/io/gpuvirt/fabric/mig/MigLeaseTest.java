package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigAssignment;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.mig.MigProvisioner;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * MIG slices as leases on a simulated HGX B200 through the nvidia-smi backend: best fit, the
 * ownership rules shared with whole-GPU and vGPU leases, teardown, and a crash at every driver
 * call followed by recovery.
 */
final class MigLeaseTest {
  private static final MigProfileTable B200 = MigProfileTable.b200();
  private SimulatedHost host;
  private MigBackend backend;
  private LeaseLedger ledger;

  @BeforeEach
  void b200WithMigOnTwoGpus() {
    host = SimulatedHost.hgxB200();
    backend = NvidiaSmiMigBackend.on(GpuHost.environment(host.root()).commands());
    ledger = LeaseLedger.open(host.root().resolve("var/lib/gpuvirt"));
    for (int gpu : new int[] {0, 1}) {
      backend.setMode(gpu, true);
      backend.reset(gpu);
    }
  }

  @AfterEach
  void close() {
    host.close();
  }

  private MigProvisioner mig() {
    return MigProvisioner.on(backend, ledger);
  }

  /** Every GPU instance on the host, as "address/placement profile". */
  private Set<String> instances() {
    Set<String> out = new TreeSet<>();
    for (MigGpu g : backend.gpus()) {
      if (g.mode().enabled()) {
        for (GpuInstance gi : backend.layout(g.index(), B200).instances()) {
          out.add(g.address() + "/" + gi.placement() + " " + gi.profile().name());
        }
      }
    }
    return out;
  }

  private Set<String> leased() {
    Set<String> out = new TreeSet<>();
    for (Lease l : ledger.leases()) {
      for (MigAssignment m : l.migs()) {
        out.add(m.gpu() + "/" + m.placement() + " " + m.profile());
      }
    }
    return out;
  }

  @Test
  void provision_3g_takesTheFullerGpuAndRecordsTheDriversIdAndPlacement() {
    backend.createGpuInstance(1, B200.profile("4g.90gb")); // an operator's instance on GPU 1

    Lease lease = mig().provision("vm-9", "3g.90gb");

    MigAssignment m = lease.migs().get(0);
    assertEquals(LeaseState.BOUND, lease.state());
    assertEquals(PciAddress.parse("0000:3d:00.0"), m.gpu(), "best fit: GPU 1 is fuller");
    assertEquals(new MigPlacement(4, 4), m.placement());
    assertTrue(m.gpuInstanceId().isPresent());
    assertEquals(2, backend.layout(1, B200).instances().size());
  }

  @Test
  void provision_sameOwnerTwice_returnsTheSameLeaseAndMakesOneInstance() {
    Lease first = mig().provision("vm-9", "2g.45gb");

    Lease again = mig().provision("vm-9", "2g.45gb");

    assertEquals(first, again);
    assertEquals(1, instances().size());
  }

  @Test
  void teardown_destroysTheInstanceAndReleases() {
    mig().provision("vm-9", "1g.23gb");

    assertTrue(mig().teardown("vm-9").isPresent());

    assertEquals(Set.of(), instances());
    assertEquals(List.of(), ledger.leases());
    assertTrue(mig().teardown("vm-9").isEmpty(), "idempotent");
  }

  @Test
  void provision_noRoomAnywhere_isRefusedNamingEachGpuAndChangesNothing() {
    backend.createGpuInstance(0, B200.profile("7g.180gb"));
    backend.createGpuInstance(1, B200.profile("7g.180gb"));

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> mig().provision("vm-9", "1g.23gb"));

    assertTrue(e.getMessage().contains("GPU 0 (0000:17:00.0, NVIDIA B200): no free placement"),
        e.getMessage());
    assertTrue(e.getMessage().contains("GPU 2 (0000:60:00.0, NVIDIA B200): MIG is DISABLED"),
        e.getMessage());
    assertEquals(List.of(), ledger.leases());
  }

  @Test
  void wholeGpuAllocation_ofAGpuWithLeasedSlices_isRefused() {
    MigAssignment m = mig().provision("vm-9", "1g.23gb").migs().get(0);

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> ledger.allocate(AllocationRequest.builder("vm-whole").count(1)
            .selector(DeviceSelector.addresses(List.of(m.gpu()))).build(),
            TopologyScanner.scan(host.sysfs())));

    assertTrue(e.getMessage().contains("MIG GPU instances leased to vm-9"), e.getMessage());
  }

  @Test
  void provision_gpuReservedWhole_isNotChosen() {
    ledger.allocate(AllocationRequest.builder("vm-whole").count(1)
        .selector(DeviceSelector.parse("0000:17:00.0")).build(),
        TopologyScanner.scan(host.sysfs()));

    Lease lease = mig().provision("vm-9", "7g.180gb");

    assertEquals(PciAddress.parse("0000:3d:00.0"), lease.migs().get(0).gpu());
  }

  @Test
  void migApply_onAGpuWithLeasedSlices_isRefused() {
    mig().provision("vm-9", "1g.23gb");
    MigPartedConfig off = MigPartedYaml.parse("version: v1\nmig-configs:\n  off:\n"
        + "    - devices: all\n      mig-enabled: false\n", "off.yaml");

    MigApplyException e = assertThrows(MigApplyException.class,
        () -> MigConfigurator.on(backend).protecting(ledger).apply(off, "off"));

    assertTrue(e.getMessage().contains("is leased to vm-9"), e.getMessage());
    assertEquals(1, instances().size());
  }

  @Test
  void ledger_migLease_readsBackFromAnotherOpening() {
    Lease lease = mig().provision("vm-9", "3g.90gb");

    assertEquals(lease, LeaseLedger.open(host.root().resolve("var/lib/gpuvirt"))
        .lease("vm-9").orElseThrow());
  }

  @Test
  void provision_driverMadeItButReadingBackFailed_destroysItAndReleases() {
    Crashing readBackFails = new Crashing(backend, Integer.MAX_VALUE) {
      @Override
      public GpuInstance createGpuInstance(int gpu, GpuInstanceProfile profile) {
        super.createGpuInstance(gpu, profile);
        throw new io.gpuvirt.core.mig.MigBackendException("nvidia-smi mig -lgi printed garbage");
      }
    };

    assertThrows(io.gpuvirt.core.mig.MigBackendException.class,
        () -> MigProvisioner.on(readBackFails, ledger).provision("vm-9", "3g.90gb"));

    assertEquals(Set.of(), instances());
    assertEquals(List.of(), ledger.leases());
  }

  // ---- a crash at every driver call --------------------------------------------------------

  /** The process dies: nothing after it runs, no catch block either. */
  private static final class Crash extends Error {
    Crash(String at) {
      super("crash at " + at, null, false, false);
    }
  }

  /** Crashes at the {@code at}-th point: before or after each change, counted in order. */
  private static class Crashing extends SteppingMigBackend {
    private final int at;
    int calls;

    Crashing(MigBackend real, int at) {
      super(real);
      this.at = at;
    }

    @Override
    void before(String what) {
      if (++calls == at) {
        throw new Crash("before " + what);
      }
    }

    @Override
    void after(String what) {
      if (++calls == at) {
        throw new Crash("after " + what);
      }
    }
  }

  @Test
  void crashAtEveryDriverCall_thenRecover_leavesLeasesAndInstancesInAgreement() {
    backend.createGpuInstance(0, B200.profile("1g.23gb")); // an operator's: never touched
    Set<String> operators = instances();
    List<String> failures = new ArrayList<>();
    for (int k = 1; k <= 8; k++) {
      Crashing crashing = new Crashing(backend, k);
      MigProvisioner dying = MigProvisioner.on(crashing, ledger);
      try {
        dying.provision("vm-9", "3g.90gb");
        dying.teardown("vm-9");
      } catch (Crash expected) {
        // the process died here
      }
      List<String> recovered = mig().recover();
      Set<String> want = new TreeSet<>(operators);
      want.addAll(leased());
      if (!instances().equals(want)) {
        failures.add("crash " + k + ": instances " + instances() + ", leases and operator's "
            + want + " (recovery: " + recovered + ")");
      }
      if (ledger.leases().stream().anyMatch(l -> l.state() != LeaseState.BOUND)) {
        failures.add("crash " + k + ": a lease left " + ledger.leases());
      }
      mig().teardown("vm-9");
      if (!instances().equals(operators)) {
        failures.add("crash " + k + ": after teardown " + instances());
      }
    }
    assertEquals(List.of(), failures);
  }
}
