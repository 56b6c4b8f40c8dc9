package io.gpuvirt.testkit.provision;

import static io.gpuvirt.core.provision.ProvisionStep.ACTIVATE_PARTITION;
import static io.gpuvirt.core.provision.ProvisionStep.ALLOCATE;
import static io.gpuvirt.core.provision.ProvisionStep.BIND;
import static io.gpuvirt.core.provision.ProvisionStep.COMMIT;
import static io.gpuvirt.core.provision.ProvisionStep.DEACTIVATE_PARTITION;
import static io.gpuvirt.core.provision.ProvisionStep.RELEASE;
import static io.gpuvirt.core.provision.ProvisionStep.RESTORE_DRIVERS;
import static io.gpuvirt.core.provision.ProvisionStep.VERIFY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.testkit.Fault;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.RandomHosts;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.FabricFault;
import io.gpuvirt.testkit.fabric.FabricOperation;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * A fault at any step of provisioning or teardown leaves the host exactly as it was before the
 * call: every device's driver and driver_override (the whole scan), the active partitions and the
 * ledger. Faults are injected the moment their step starts; each run reports its seed and fault.
 */
final class FaultMatrixTest {
  private static final int PARTITION_SEEDS = 4;
  private static final int RANDOM_HOST_SEEDS = 12;
  private static final String OWNER = "vm-fault";

  @Test
  void provisionAndTeardownFaults_leaveTheHostAsBefore_partitionMode() {
    Set<String> exercised = new TreeSet<>();
    for (long seed = 0; seed < PARTITION_SEEDS; seed++) {
      SplittableRandom rnd = new SplittableRandom(seed);
      try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
        background(site, rnd, seed);
        AllocationRequest request = fittingPartitionRequest(site, rnd, seed);
        exercised.addAll(runMatrix(site, request, faults(true), rnd, "seed " + seed));
      }
    }
    assertEquals(names(faults(true)), exercised, "faults never injected");
  }

  @Test
  void provisionFaults_ofAnOwnerWithAReservation_keepTheReservation() {
    // With a reservation, allocation finds the owner's lease: no ledger write or Fabric Manager
    // call there to fail (the host is still scanned).
    List<StepFault> provisionFaults = faults(true).stream()
        .filter(f -> !teardownStep(f.step()))
        .filter(f -> f.step() != ALLOCATE || f.name().equals("vendor read fails")).toList();
    SplittableRandom rnd = new SplittableRandom(7);
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      AllocationRequest request = AllocationRequest.builder(OWNER).count(2).build();
      site.reserve(request);

      Set<String> exercised = runMatrix(site, request, provisionFaults, rnd, "reserved");

      assertEquals(names(provisionFaults), exercised, "faults never injected");
    }
  }

  @Test
  void provisionAndTeardownFaults_leaveTheHostAsBefore_randomHosts() {
    Set<String> exercised = new TreeSet<>();
    int hostsWithGpus = 0;
    for (long seed = 0; seed < RANDOM_HOST_SEEDS; seed++) {
      SplittableRandom rnd = new SplittableRandom(seed);
      HostProfile profile = RandomHosts.profile(rnd);
      try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.create(profile))) {
        int gpus = profile.gpus().size();
        AllocationRequest request = AllocationRequest.builder(OWNER)
            .count(1 + rnd.nextInt(Math.max(1, Math.min(gpus, 4))))
            .placement(Placement.values()[rnd.nextInt(Placement.values().length)]).build();
        if (!grantable(site, request, "seed " + seed)) {
          continue;
        }
        hostsWithGpus++;
        exercised.addAll(runMatrix(site, request, faults(false), rnd, "random host seed " + seed));
      }
    }
    assertEquals(names(faults(false)), exercised, "faults never injected over "
        + hostsWithGpus + " random hosts that could grant a request");
  }

  @Test
  void provisionAndTeardownFaults_leaveTheHostAsBefore_presetsInGroupMode() {
    for (String preset : List.of("hgx-b200", "hgx-h100", "workstation", "no-acs", "gb200-nvl4")) {
      SplittableRandom rnd = new SplittableRandom(preset.hashCode());
      try (SimulatedSite site = SimulatedSite.groups(
          SimulatedHost.create(HostProfile.preset(preset)))) {
        // Allow the endpoints that share a GPU's group (the NICs of the host without ACS).
        Topology topology = site.scan();
        List<PciAddress> foreign = topology.gpus().stream()
            .flatMap(g -> topology.members(topology.groupOf(g.address()).orElseThrow()).stream())
            .filter(d -> !d.isBridge() && !d.isGpu()).map(PciDevice::address).toList();
        AllocationRequest request = AllocationRequest.builder(OWNER).count(2)
            .allowForeign(foreign).build();
        if (!grantable(site, request, preset)) {
          request = AllocationRequest.builder(OWNER).count(1).allowForeign(foreign).build();
        }
        Set<String> exercised = runMatrix(site, request, faults(false), rnd, preset);
        if (exercised.isEmpty()) {
          fail(preset + ": no fault could be injected");
        }
      }
    }
  }

  @Test
  void bindFault_isNotOnThePath_becauseBindingGoesThroughDriversProbe() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot before = site.snapshot();
      site.host().profile().gpus().forEach(g -> site.host().inject(
          Fault.bindFails(g.address()).persistent()));

      site.provisioner().provision(AllocationRequest.builder(OWNER).count(8).build());
      site.provisioner().teardown(OWNER);

      HostSnapshot.assertUnchanged(before, site.snapshot(), "provision + teardown");
    }
  }

  /** Runs every fault against provisioning (or teardown) of {@code request}; returns those injected. */
  private static Set<String> runMatrix(SimulatedSite site, AllocationRequest request,
      List<StepFault> faults, SplittableRandom rnd, String label) {
    Set<String> injected = new TreeSet<>();
    HostSnapshot before = site.snapshot();
    for (StepFault fault : faults) {
      String run = label + ", request " + request.count() + " GPUs, " + fault;
      if (teardownStep(fault.step())) {
        site.provisioner().provision(request);
        HostSnapshot bound = site.snapshot();
        FaultAtStep listener = new FaultAtStep(site, fault, rnd.split());
        expectFailure(run, fault, listener, () -> site.provisioner(listener).teardown(OWNER));
        clearFaults(site);
        if (listener.injected()) {
          injected.add(fault.toString());
          HostSnapshot.assertUnchanged(bound, site.snapshot(), run + ": after the failed teardown");
          site.provisioner().teardown(OWNER);
        }
      } else {
        FaultAtStep listener = new FaultAtStep(site, fault, rnd.split());
        expectFailure(run, fault, listener, () -> site.provisioner(listener).provision(request));
        clearFaults(site);
        if (listener.injected()) {
          injected.add(fault.toString());
        } else {
          site.provisioner().teardown(OWNER);
        }
      }
      HostSnapshot.assertUnchanged(before, site.snapshot(), run);
    }
    return injected;
  }

  /** Runs {@code call}; when the fault applied, expects it to fail at the fault's step, rolled back. */
  private static void expectFailure(String run, StepFault fault, FaultAtStep listener,
      Runnable call) {
    try {
      call.run();
      listener.liftIfPending();
      if (listener.injected()) {
        fail(run + ": succeeded although the fault was injected; events "
            + listener.events());
      }
    } catch (ProvisioningException e) {
      listener.liftIfPending();
      if (!listener.injected()) {
        throw new AssertionError(run + ": failed although no fault applied", e);
      }
      if (e.step() != fault.step() || !e.rolledBack()) {
        throw new AssertionError(run + ": failed at " + e.step() + ", rolled back "
            + e.rolledBack(), e);
      }
    } catch (RuntimeException e) {
      listener.liftIfPending();
      throw new AssertionError(run + ": threw " + e, e);
    }
  }

  private static void clearFaults(SimulatedSite site) {
    site.host().clearFaults();
    if (site.partitionMode()) {
      site.fabric().clearFaults();
    }
  }

  private static boolean teardownStep(ProvisionStep step) {
    return step == RESTORE_DRIVERS || step == DEACTIVATE_PARTITION || step == RELEASE;
  }

  /** Every fault of the matrix, in step order. */
  static List<StepFault> faults(boolean partitions) {
    List<StepFault> f = new ArrayList<>();
    f.add(StepFault.scanFails(ALLOCATE));
    f.add(StepFault.ledgerWriteFails(ALLOCATE));
    if (partitions) {
      // Fabric Manager still starting: refused twice, so the restart-aware retry meets it too.
      f.add(StepFault.fabric(ALLOCATE, FabricFault.fail(FabricOperation.LIST,
          FmReturnCode.NOT_CONFIGURED).times(2)));
      f.add(StepFault.fabricHangs(ALLOCATE, FabricOperation.LIST));
      f.add(StepFault.fabricFails(ALLOCATE, FabricOperation.UNSUPPORTED,
          FmReturnCode.GENERIC_ERROR));
    }
    f.add(StepFault.resetFails());
    if (partitions) {
      f.add(StepFault.fabricFails(ACTIVATE_PARTITION, FabricOperation.ACTIVATE,
          FmReturnCode.NVLINK_ERROR));
      f.add(StepFault.fabricFails(ACTIVATE_PARTITION, FabricOperation.ACTIVATE,
          FmReturnCode.PARTITION_MISSING_SWITCHES));
      f.add(StepFault.fabricHangs(ACTIVATE_PARTITION, FabricOperation.ACTIVATE));
    }
    f.add(StepFault.unbindBusy(BIND));
    f.add(StepFault.probeFails(BIND, StepFault::moved));
    f.add(StepFault.overrideWriteFails(BIND, StepFault::moved));
    f.add(StepFault.probeWriteFails(BIND, StepFault::moved));
    f.add(StepFault.deviceLeavesVfio(VERIFY));
    if (partitions) {
      f.add(StepFault.fabricFails(VERIFY, FabricOperation.LIST, FmReturnCode.TIMEOUT));
    }
    f.add(StepFault.ledgerWriteFails(COMMIT));
    f.add(StepFault.unbindBusyOnVfio(RESTORE_DRIVERS));
    f.add(StepFault.probeFails(RESTORE_DRIVERS, StepFault::movedFromDriver));
    // Restoring a device that had no driver writes no override: there is nothing to put back.
    f.add(StepFault.overrideWriteFails(RESTORE_DRIVERS, StepFault::movedFromDriver));
    f.add(StepFault.probeWriteFails(RESTORE_DRIVERS, StepFault::movedFromDriver));
    if (partitions) {
      f.add(StepFault.fabricFails(DEACTIVATE_PARTITION, FabricOperation.DEACTIVATE,
          FmReturnCode.GENERIC_ERROR));
      f.add(StepFault.fabricHangs(DEACTIVATE_PARTITION, FabricOperation.DEACTIVATE));
      f.add(StepFault.fabricFails(DEACTIVATE_PARTITION, FabricOperation.LIST,
          FmReturnCode.TIMEOUT));
    }
    f.add(StepFault.ledgerWriteFails(RELEASE));
    return f;
  }

  private static Set<String> names(List<StepFault> faults) {
    Set<String> names = new TreeSet<>();
    faults.forEach(f -> names.add(f.toString()));
    return names;
  }

  /** Provisions 0 to 2 other owners with random sizes, so the matrix runs beside other leases. */
  private static void background(SimulatedSite site, SplittableRandom rnd, long seed) {
    int others = rnd.nextInt(3);
    for (int i = 0; i < others; i++) {
      int count = List.of(1, 2, 4).get(rnd.nextInt(3));
      try {
        site.provisioner().provision(AllocationRequest.builder("vm-other-" + i).count(count)
            .build());
      } catch (AllocationRefusedException e) {
        // full: fine, fewer neighbours
      }
    }
  }

  private static AllocationRequest fittingPartitionRequest(SimulatedSite site,
      SplittableRandom rnd, long seed) {
    List<Integer> sizes = new ArrayList<>(List.of(1, 2, 4, 8));
    while (!sizes.isEmpty()) {
      int count = sizes.remove(rnd.nextInt(sizes.size()));
      AllocationRequest request = AllocationRequest.builder(OWNER).count(count).build();
      if (grantable(site, request, "seed " + seed)) {
        return request;
      }
    }
    throw new AssertionError("seed " + seed + ": no partition size is free");
  }

  /** Whether the request can be granted; a refusal must change nothing. */
  private static boolean grantable(SimulatedSite site, AllocationRequest request, String label) {
    HostSnapshot before = site.snapshot();
    try {
      site.provisioner().provision(request);
      site.provisioner().teardown(request.owner());
      HostSnapshot.assertUnchanged(before, site.snapshot(), label + ": provision + teardown");
      return true;
    } catch (AllocationRefusedException e) {
      HostSnapshot.assertUnchanged(before, site.snapshot(), label + ": refusal changed the host");
      return false;
    } catch (ProvisioningException e) {
      if (site.host().profile().drivers().contains(SimulatedSite.VFIO)) {
        throw e;
      }
      // A random host without vfio-pci loaded: binding is refused, and must change nothing.
      HostSnapshot.assertUnchanged(before, site.snapshot(), label + ": failure changed the host");
      return false;
    }
  }
}
