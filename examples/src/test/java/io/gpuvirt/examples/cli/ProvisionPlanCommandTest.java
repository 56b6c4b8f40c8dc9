package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code provision} prints the plan the provisioner made before it committed the lease: the same
 * command {@code qemu-args} renders for it, and a command that cannot be built is the
 * provisioner's rollback, not the CLI's.
 */
final class ProvisionPlanCommandTest {
  private Path root;
  private Topology initial;

  @BeforeEach
  void writeHost() throws IOException {
    root = TempRoots.create("gpuvirt-plan-");
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

  private List<FabricPartition> activePartitions() {
    try (FabricManager fm = SimulatedFabric.underHostRoot(root).connect()) {
      return fm.listPartitions().stream().filter(FabricPartition::active).toList();
    }
  }

  @Test
  void provisionJson_qemuPlan_equalsQemuArgsForTheSameLease() throws IOException {
    CliRun provision = run("provision", "--gpus", "4", "--owner", "vm-4", "--qemu-version",
        "9.2.0", "--memory", "96G", "--json");
    CliRun qemuArgs = run("qemu-args", "--owner", "vm-4", "--qemu-version", "9.2.0", "--memory",
        "96G", "--format", "json");

    ObjectMapper json = new ObjectMapper();
    JsonNode planned = json.readTree(provision.out()).get("qemu");
    assertEquals(json.readTree(qemuArgs.out()), planned, provision + "\n" + qemuArgs);
  }

  @Test
  void provision_commandThatCannotBeBuilt_isRolledBackByTheProvisioner() {
    // Under an assumed QEMU only the host CPU model is known: the plan fails at PLAN.
    CliRun run = run("provision", "--gpus", "2", "--owner", "vm-2", "--qemu-version", "10.1.0",
        "--cpu-model", "Skylake-Server");

    try (SimulatedHost host = SimulatedHost.open(root)) {
      assertEquals(List.of(1, List.of(), List.of(), initial.devices()),
          List.of(run.exitCode(), LeaseLedger.open(root.resolve("var/lib/gpuvirt")).leases(),
              activePartitions(), TopologyScanner.scan(host.sysfs()).devices()), run.toString());
    }
    assertTrue(run.err().contains("PLAN") && run.err().contains("Skylake-Server"), run.err());
  }
}
