package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import io.gpuvirt.testkit.fabric.SimulatedNvfmLibrary;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class PartitionsCommandTest {
  @TempDir Path root;

  private CliRun simulated(String... args) {
    String[] all = new String[args.length + 4];
    System.arraycopy(args, 0, all, 0, args.length);
    System.arraycopy(new String[] {"--fabric", "simulated", "--root", root.toString()}, 0, all,
        args.length, 4);
    return CliRun.of(all);
  }

  @Test
  void list_simulatedHgxB200_prints15Partitions() {
    CliRun run = simulated("partitions", "list");
    assertEquals(16, run.out().lines().count(), run.out());
  }

  @Test
  void list_json_isAnArrayOfPartitionsWithModuleIds() throws Exception {
    JsonNode json = new ObjectMapper().readTree(simulated("partitions", "list", "--json").out());
    assertEquals("[1,2]", json.get(3).get("moduleIds").toString());
  }

  @Test
  void activate_free_exits0AndStaysActiveForTheNextRun() {
    assertEquals(0, simulated("partitions", "activate", "4").exitCode());
    assertTrue(simulated("partitions", "list").out().lines()
        .anyMatch(l -> l.matches("4\\s+yes\\s.*")));
  }

  @Test
  void activate_overlapping_exits1NamingInUse() {
    simulated("partitions", "activate", "4");
    CliRun run = simulated("partitions", "activate", "2");
    assertTrue(run.exitCode() == 1 && run.err().contains("IN_USE"), run.toString());
  }

  @Test
  void deactivate_inactive_exits1NamingPartitionIdNotInUse() {
    CliRun run = simulated("partitions", "deactivate", "5");
    assertTrue(run.exitCode() == 1 && run.err().contains("PARTITION_ID_NOT_IN_USE"),
        run.toString());
  }

  @Test
  void deactivate_noStateDirectory_proceedsWithoutCreatingIt() {
    CliRun run = simulated("partitions", "deactivate", "5");
    assertTrue(run.exitCode() == 1 && run.err().contains("PARTITION_ID_NOT_IN_USE")
        && !Files.exists(root.resolve("var/lib/gpuvirt")), run.toString());
  }

  /** Provisions {@code owner} on a simulated HGX B200 at the root; returns its partition. */
  private int provisionTwoGpus(String owner) {
    SimulatedHost.create(HostProfile.hgxB200(), root).close();
    CliRun provision = CliRun.of("provision", "--gpus", "2", "--owner", owner, "--qemu-version",
        "10.1.0", "--root", root.toString());
    assertEquals(0, provision.exitCode(), provision.toString());
    return LeaseLedger.open(root.resolve("var/lib/gpuvirt")).lease(owner).orElseThrow()
        .partitionId().getAsInt();
  }

  private boolean active(int partition) {
    try (FabricManager fm = SimulatedFabric.underHostRoot(root).connect()) {
      return fm.listPartitions().stream().anyMatch(p -> p.id() == partition && p.active());
    }
  }

  @Test
  void deactivate_leasedPartition_exits1NamingOwnerAndTeardownAndKeepsItActive() {
    int partition = provisionTwoGpus("vm-2");

    CliRun run = simulated("partitions", "deactivate", Integer.toString(partition));

    assertTrue(run.exitCode() == 1 && run.err().contains("held by the lease of vm-2")
        && run.err().contains("gpuvirt teardown --owner vm-2") && run.err().contains("--force")
        && active(partition), run.toString());
  }

  @Test
  void deactivate_leasedPartitionForced_deactivatesIt() {
    int partition = provisionTwoGpus("vm-2");

    CliRun run = simulated("partitions", "deactivate", Integer.toString(partition), "--force");

    assertTrue(run.exitCode() == 0 && !active(partition), run.toString());
  }

  @Test
  void deactivate_partitionNoLeaseHolds_deactivatesIt() {
    int leased = provisionTwoGpus("vm-2");
    int other;
    try (FabricManager fm = SimulatedFabric.underHostRoot(root).connect()) {
      Set<Integer> busy = fm.listPartitions().stream().filter(p -> p.id() == leased)
          .findFirst().orElseThrow().moduleIds();
      other = fm.listPartitions().stream().filter(p -> p.size() == 1
          && !busy.containsAll(p.moduleIds())).findFirst().orElseThrow().id();
    }
    assertEquals(0, simulated("partitions", "activate", Integer.toString(other)).exitCode());

    CliRun run = simulated("partitions", "deactivate", Integer.toString(other));

    assertTrue(run.exitCode() == 0 && !active(other) && active(leased), run.toString());
  }

  @Test
  void list_fabricManagerStopped_exits1NamingConnectionNotValid() {
    SimulatedFabric.underHostRoot(root).stop();
    CliRun run = simulated("partitions", "list");
    assertTrue(run.exitCode() == 1 && run.err().contains("CONNECTION_NOT_VALID"), run.toString());
  }

  @Test
  void activate_throughFakeFmpmOfSimulatedHost_twiceExits1With239Code() {
    SimulatedHost.create(HostProfile.hgxB200(), root).close();
    List<String> args = List.of("partitions", "activate", "9", "--fabric", "fmpm", "--root",
        root.toString());
    CliRun first = CliRun.of(args.toArray(String[]::new));
    CliRun second = CliRun.of(args.toArray(String[]::new));
    assertTrue(first.exitCode() == 0 && second.exitCode() == 1
        && second.err().contains("PARTITION_ID_IN_USE"), second.toString());
  }

  @Test
  void list_nativeOverSimulatedLibnvfm_exits0() {
    SimulatedHost.create(HostProfile.hgxB200(), root).close();
    Assumptions.assumeTrue(gccPresent() || "1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS")),
        "gcc not installed");
    Path lib = SimulatedNvfmLibrary.build(CommandRunner.system(), Path.of("target", "nvfm-sim"));
    CliRun run = CliRun.of("partitions", "list", "--fabric", "native", "--nvfm-library",
        lib.toAbsolutePath().toString(), "--root", root.toString());
    assertEquals(0, run.exitCode(), run.toString());
  }

  @Test
  void activate_fmpmWithARootThatIsNoSimulatedHost_runsTheRealFmpm() {
    CliRun run = CliRun.of("partitions", "activate", "9", "--fabric", "fmpm", "--fmpm",
        root.resolve("no-such-fmpm").toString(), "--root", root.toString());
    assertTrue(run.exitCode() == 2 && run.err().contains("no-such-fmpm")
        && !root.resolve(SimulatedFabric.STATE_PATH).toFile().exists(), run.toString());
  }

  @Test
  void list_nativeWithoutLibrary_exits2() {
    CliRun run = CliRun.of("partitions", "list", "--nvfm-library",
        root.resolve("libnvfm.so.1").toString());
    assertTrue(run.exitCode() == 2 && run.err().contains("libnvfm"), run.toString());
  }

  @Test
  void list_fmpmProgramMissing_exits2() {
    CliRun run = CliRun.of("partitions", "list", "--fabric", "fmpm", "--fmpm",
        root.resolve("fmpm").toString());
    assertEquals(2, run.exitCode(), run.toString());
  }

  @Test
  void list_unknownFabric_exits2() {
    assertEquals(2, CliRun.of("partitions", "list", "--fabric", "magic").exitCode());
  }

  @Test
  void list_fmpmOptionWithNative_exits2() {
    assertEquals(2, CliRun.of("partitions", "list", "--fmpm", "/usr/bin/fmpm").exitCode());
  }

  @Test
  void list_badAddress_exits2() {
    assertEquals(2, CliRun.of("partitions", "list", "--fm-address", "unix:relative").exitCode());
  }

  @Test
  void activate_notANumber_exits2() {
    assertEquals(2, simulated("partitions", "activate", "four").exitCode());
  }

  private static boolean gccPresent() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "gcc"))) {
        return true;
      }
    }
    return false;
  }
}
