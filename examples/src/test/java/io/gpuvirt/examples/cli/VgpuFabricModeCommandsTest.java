package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI on the simulated HGX B200 in Fabric Manager vGPU mode: {@code provision --vgpu} activates
 * the lease's partition with its VFs, {@code teardown} deactivates it, {@code recover} finishes
 * what a crash left.
 */
final class VgpuFabricModeCommandsTest {
  @TempDir Path dir;
  private Path root;

  @BeforeEach
  void simulate() {
    root = dir.resolve("host");
    assertEquals(Cli.OK, GpuvirtCli.run("simulate", "--profile", "hgx-b200-vgpu", "--out",
        root.toString()));
    assertEquals(Cli.OK, GpuvirtCli.run("vgpu", "enable", "--all", "--root", root.toString()));
  }

  private SimulatedFabric fabric() {
    return SimulatedFabric.ofHost(SimulatedHost.open(root)).orElseThrow();
  }

  @Test
  void provisionTwoVgpus_activatesTheirTwoGpuPartition_teardownDeactivatesIt() {
    CliRun provisioned = CliRun.of("provision", "--vgpu", "B200X-90C", "--count", "2",
        "--owner", "vm-7", "--root", root.toString());
    List<Integer> active = fabric().activePartitionIds();
    CliRun torn = CliRun.of("teardown", "--owner", "vm-7", "--root", root.toString());
    assertEquals(List.of(Cli.OK, true, List.of(4), Cli.OK, List.of()), List.of(
        provisioned.exitCode(), provisioned.out().contains("Fabric Manager partition 4"), active,
        torn.exitCode(), fabric().activePartitionIds()), provisioned.out() + provisioned.err()
            + torn.out() + torn.err());
  }

  @Test
  void provisionOneVgpu_jsonLeaseNamesThePartition() {
    CliRun r = CliRun.of("provision", "--vgpu", "1602", "--owner", "vm-1", "--json", "--root",
        root.toString());
    assertTrue(r.exitCode() == Cli.OK && r.out().contains("\"partition\" : 8"),
        r.out() + r.err());
  }

  @Test
  void provisionMigBacked_refusedWithNvidiasReason() {
    CliRun r = CliRun.of("provision", "--vgpu", "B200X-1-23C", "--owner", "vm-1", "--root",
        root.toString());
    assertTrue(r.exitCode() == Cli.REFUSED && r.err().contains("MIG-backed vGPUs are not "
        + "supported"), r.out() + r.err());
  }

  @Test
  void countWithoutVgpu_isABadArgument() {
    CliRun r = CliRun.of("provision", "--gpus", "2", "--count", "2", "--owner", "vm-1",
        "--root", root.toString());
    assertTrue(r.exitCode() == Cli.ERROR && r.err().contains("--count goes with --vgpu"),
        r.out() + r.err());
  }

  @Test
  void recover_deactivatesAPartitionNoLeaseHolds() {
    try (var fm = fabric().connect()) {
      fm.activateWithVirtualFunctions(9, List.of(io.gpuvirt.core.pci.PciAddress.parse(
          "0000:60:00.4")));
    }
    CliRun r = CliRun.of("recover", "--root", root.toString());
    assertEquals(List.of(Cli.OK, List.of()), List.of(r.exitCode(), fabric().activePartitionIds()),
        r.out() + r.err());
  }

  @Test
  void doctor_reportsVgpuMode() {
    CliRun r = CliRun.of("doctor", "--root", root.toString());
    assertTrue(r.out().contains("FABRIC_MODE=2") && r.out().contains("activated with its VFs"),
        r.out() + r.err());
  }

  @Test
  void provisionWholeGpus_refusedInVgpuModeEvenWithoutVfs() {
    assertEquals(Cli.OK, GpuvirtCli.run("vgpu", "disable", "--all", "--root", root.toString()));
    CliRun r = CliRun.of("provision", "--gpus", "1", "--owner", "vm-1", "--root",
        root.toString());
    assertTrue(r.exitCode() == Cli.REFUSED && r.err().contains("runs in vGPU mode (FABRIC_MODE=2)")
        && r.err().contains("nothing was changed"), r.out() + r.err());
  }
}
