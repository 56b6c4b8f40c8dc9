package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** provision, teardown, status, recover and qemu-args on a simulated HGX B200. */
final class ProvisionCommandsTest {
  private Path root;
  private Topology initial;

  @BeforeEach
  void writeHost() throws IOException {
    root = TempRoots.create("gpuvirt-cli-");
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200(), root)) {
      initial = TopologyScanner.scan(host.sysfs());
    }
  }

  @AfterEach
  void deleteHost() throws IOException {
    TempRoots.delete(root);
  }

  private CliRun run(String... args) {
    return CliRun.withRoot(root, args);
  }

  private Topology scan() {
    try (SimulatedHost host = SimulatedHost.open(root)) {
      return TopologyScanner.scan(host.sysfs());
    }
  }

  private Optional<Lease> lease(String owner) {
    return LeaseLedger.open(root.resolve("var/lib/gpuvirt")).lease(owner);
  }

  private List<FabricPartition> activePartitions() {
    try (FabricManager fm = SimulatedFabric.underHostRoot(root).connect()) {
      return fm.listPartitions().stream().filter(FabricPartition::active).toList();
    }
  }

  @Test
  void provision_fourGpus_bindsExactlyThePartitionsGpus() {
    CliRun run = run("provision", "--gpus", "4", "--owner", "vm-42", "--qemu-version", "10.1.0");
    assertEquals(0, run.exitCode(), run.toString());
    Lease lease = lease("vm-42").orElseThrow();
    FabricPartition partition = activePartitions().get(0);
    Set<Integer> leasedModules = lease.requestedDevices().stream()
        .map(d -> d.moduleId().getAsInt()).collect(Collectors.toCollection(TreeSet::new));
    Set<String> onVfio = scan().gpus().stream()
        .filter(g -> g.driver().equals(Optional.of("vfio-pci")))
        .map(g -> g.address().toString()).collect(Collectors.toCollection(TreeSet::new));
    Set<String> leased = lease.requestedDevices().stream().map(d -> d.address().toString())
        .collect(Collectors.toCollection(TreeSet::new));
    assertEquals(List.of(partition.moduleIds(), leased, LeaseState.BOUND),
        List.of(leasedModules, onVfio, lease.state()), run.out());
  }

  @Test
  void provision_printsThePartitionTheStepsAndTheQemuArgv() {
    String out = run("provision", "--gpus", "2", "--owner", "vm-2", "--qemu-version", "10.1.0")
        .out();
    assertTrue(out.contains("partition") && out.contains("FINISHED BIND")
        && out.contains("-device pcie-root-port") && out.contains("vfio-pci,host=0000:"), out);
  }

  @Test
  void provision_twice_isAlreadyProvisioned() {
    run("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", "10.1.0");
    CliRun again = run("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", "10.1.0");
    assertTrue(again.exitCode() == 0 && again.out().contains("already provisioned"),
        again.toString());
  }

  @Test
  void provision_beyondCapacity_exits1SayingWhatIsFree() {
    assertEquals(0, run("provision", "--gpus", "4", "--owner", "vm-a", "--qemu-version",
        "10.1.0").exitCode());
    CliRun refused = run("provision", "--gpus", "8", "--owner", "vm-b", "--qemu-version",
        "10.1.0");
    assertTrue(refused.exitCode() == 1 && refused.err().contains("no free partition of 8"),
        refused.toString());
  }

  @Test
  void teardown_afterProvision_restoresTheInitialHost() {
    run("provision", "--gpus", "8", "--owner", "vm-8", "--qemu-version", "10.1.0");
    CliRun down = run("teardown", "--owner", "vm-8");
    assertEquals(0, down.exitCode(), down.toString());
    assertEquals(List.of(initial.devices(), List.of(), Optional.empty()),
        List.of(scan().devices(), activePartitions(), lease("vm-8")));
  }

  @Test
  void teardown_ownerWithoutLease_isANoOp() {
    CliRun run = run("teardown", "--owner", "vm-none");
    assertTrue(run.exitCode() == 0 && run.out().contains("nothing to do"), run.toString());
  }

  @Test
  void status_afterProvision_isConsistent() {
    run("provision", "--gpus", "2", "--owner", "vm-2", "--qemu-version", "10.1.0");
    CliRun status = run("status");
    assertTrue(status.exitCode() == 0 && status.out().contains("vm-2")
        && status.out().contains("none: every lease"), status.toString());
  }

  @Test
  void status_partitionDeactivatedBehindGpuvirtsBack_flagsIt() {
    run("provision", "--gpus", "2", "--owner", "vm-2", "--qemu-version", "10.1.0");
    try (FabricManager fm = SimulatedFabric.underHostRoot(root).connect()) {
      fm.deactivate(lease("vm-2").orElseThrow().partitionId().getAsInt());
    }
    CliRun status = run("status");
    assertTrue(status.exitCode() == 1 && status.out().contains("LEASED_PARTITION_INACTIVE"),
        status.toString());
  }

  @Test
  void recover_interruptedProvisioning_rollsItBack() {
    run("provision", "--gpus", "2", "--owner", "vm-2", "--qemu-version", "10.1.0");
    LeaseLedger.open(root.resolve("var/lib/gpuvirt")).updateState("vm-2", LeaseState.BINDING);
    CliRun recovered = run("recover");
    assertEquals(List.of(0, initial.devices(), List.of(), Optional.empty()),
        List.of(recovered.exitCode(), scan().devices(), activePartitions(), lease("vm-2")),
        recovered.toString());
  }

  @Test
  void qemuArgs_eightGpusOnQemu82_usesXNoMmap() {
    run("provision", "--gpus", "8", "--owner", "vm-8", "--qemu-version", "10.1.0");
    CliRun args = run("qemu-args", "--owner", "vm-8", "--qemu-version", "8.2.2");
    assertTrue(args.exitCode() == 0 && args.out().contains("x-no-mmap=true"), args.toString());
  }

  @Test
  void qemuArgs_eightGpusOnQemu101_doesNotUseXNoMmap() {
    run("provision", "--gpus", "8", "--owner", "vm-8", "--qemu-version", "10.1.0");
    CliRun args = run("qemu-args", "--owner", "vm-8", "--qemu-version", "10.1.0");
    assertTrue(args.exitCode() == 0 && !args.out().contains("x-no-mmap"), args.toString());
  }

  @Test
  void allocate_sharedNvSwitchHost_reservesAWholePartition() {
    CliRun run = run("allocate", "--gpus", "2", "--owner", "vm-2");
    Lease lease = lease("vm-2").orElseThrow();
    assertTrue(run.exitCode() == 0 && lease.partitionId().isPresent()
        && lease.state() == LeaseState.ALLOCATED, run.toString());
  }

  @Test
  void provision_gpusOfTheLease_keepTheirOriginalDriverOnRecord() {
    run("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", "10.1.0");
    List<Optional<String>> drivers = lease("vm-1").orElseThrow().requestedDevices().stream()
        .map(LeasedDevice::originalDriver).toList();
    assertEquals(List.of(Optional.of("nvidia")), drivers);
  }

  @Test
  void release_ofAProvisionedLease_isRefusedAndChangesNothing() {
    run("provision", "--gpus", "2", "--owner", "vm-2", "--qemu-version", "10.1.0");
    CliRun release = run("release", "--owner", "vm-2");
    assertTrue(release.exitCode() == 1 && release.err().contains("gpuvirt teardown")
        && lease("vm-2").orElseThrow().state() == LeaseState.BOUND, release.toString());
  }

  @Test
  void provision_badMemorySize_exits2BeforeTouchingTheHost() {
    CliRun run = run("provision", "--gpus", "2", "--owner", "vm-2", "--memory", "0");
    assertEquals(List.of(2, Optional.empty(), initial.devices()),
        List.of(run.exitCode(), lease("vm-2"), scan().devices()), run.toString());
  }

  @Test
  void leases_afterProvision_nameTheGpusInTheTableAndInFull() {
    assertEquals(0, run("provision", "--gpus", "2", "--owner", "vm-42", "--qemu-version",
        "10.1.0").exitCode());

    CliRun table = run("leases");
    CliRun full = run("leases", "--owner", "vm-42");
    assertTrue(table.out().lines().anyMatch(l -> l.startsWith("vm-42 ")
        && l.endsWith("NVIDIA Corporation GB100 [B200]"))
        && full.out().lines().filter(l -> l.contains(" 10de:2901 ")
            && l.endsWith("(NVIDIA Corporation GB100 [B200])")).count() == 2,
        table.out() + full.out());
  }
}
