package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gpuvirt mig} on a simulated HGX B200 written by {@code simulate}: an operator's
 * mig-parted file applied, asserted and exported, from separate processes' point of view (each
 * command opens the host afresh).
 */
final class MigCommandsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CONFIG = "version: v1\n"
      + "mig-configs:\n"
      + "  all-disabled:\n"
      + "    - devices: all\n"
      + "      mig-enabled: false\n"
      + "  all-balanced:\n"
      + "    - device-filter: [\"0x290110DE\"]\n"
      + "      devices: all\n"
      + "      mig-enabled: true\n"
      + "      mig-devices:\n"
      + "        \"1g.23gb\": 2\n"
      + "        \"2g.45gb\": 1\n"
      + "        \"3g.90gb\": 1\n";

  @TempDir Path dir;
  private Path root;
  private Path file;

  @BeforeEach
  void host() throws IOException {
    root = dir.resolve("hgx");
    SimulatedHost.create(HostProfile.hgxB200(), root).close();
    file = dir.resolve("config.yaml");
    Files.writeString(file, CONFIG);
  }

  private CliRun run(String... args) {
    return CliRun.withRoot(root, args);
  }

  @Test
  void applyAssertExport_allBalanced_roundTrips() throws IOException {
    CliRun before = run("mig", "assert", "-f", file.toString(), "-c", "all-balanced");
    CliRun apply = run("mig", "apply", "-f", file.toString(), "-c", "all-balanced");
    CliRun after = run("mig", "assert", "-f", file.toString(), "-c", "all-balanced");
    CliRun export = run("mig", "export", "--name", "snapshot");
    Path exported = dir.resolve("exported.yaml");
    Files.writeString(exported, export.out());
    CliRun again = run("mig", "assert", "-f", exported.toString(), "-c", "snapshot");

    assertEquals(1, before.exitCode(), before.toString());
    assertTrue(before.err().contains("MIG mode is DISABLED"), before.err());
    assertEquals(0, apply.exitCode(), apply.toString());
    assertTrue(apply.out().contains("GPU 7: "), apply.out());
    assertEquals(0, after.exitCode(), after.toString());
    assertEquals(0, again.exitCode(), again + "\n" + export.out());
  }

  @Test
  void status_afterApply_showsModesAndInstances() throws IOException {
    run("mig", "apply", "-f", file.toString(), "-c", "all-balanced");

    JsonNode gpus = JSON.readTree(run("mig", "status", "--json").out());
    String text = run("mig", "status").out();

    assertEquals(8, gpus.size());
    assertEquals("ENABLED", gpus.get(0).get("current").asText());
    assertEquals(4, gpus.get(0).get("gpuInstances").size());
    assertTrue(text.contains("3g.90gb at 4:4"), text);
  }

  @Test
  void apply_skipReset_reportsThePendingModeAndStatusSaysHowToFinish() {
    CliRun apply = run("mig", "apply", "-f", file.toString(), "-c", "all-balanced",
        "--skip-reset");
    String status = run("mig", "status").out();

    assertEquals(0, apply.exitCode(), apply.toString());
    assertTrue(apply.out().contains("pending on GPUs [0, 1, 2, 3, 4, 5, 6, 7]"), apply.out());
    assertTrue(status.contains("ENABLED pending a GPU reset (nvidia-smi -r -i 0)"), status);
  }

  @Test
  void apply_configThatDoesNotFit_isRefusedAndChangesNothing() throws IOException {
    Path big = dir.resolve("big.yaml");
    Files.writeString(big, "version: v1\nmig-configs:\n  big:\n    - devices: all\n"
        + "      mig-enabled: true\n      mig-devices:\n        \"3g.90gb\": 3\n");

    CliRun r = run("mig", "apply", "-f", big.toString(), "-c", "big");

    assertEquals(1, r.exitCode(), r.toString());
    assertTrue(run("mig", "status").out().contains("GPU 0 (0000:17:00.0, NVIDIA B200): MIG "
        + "DISABLED"));
  }

  @Test
  void apply_badFile_isExit2WithTheLine() throws IOException {
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, "version: v2\nmig-configs: {}\n");

    CliRun r = run("mig", "apply", "-f", bad.toString(), "-c", "x");
    CliRun missing = run("mig", "apply", "-f", dir.resolve("none.yaml").toString(), "-c", "x");

    assertEquals(2, r.exitCode(), r.toString());
    assertTrue(r.err().contains("version"), r.err());
    assertEquals(2, missing.exitCode(), missing.toString());
  }

  @Test
  void doctor_pendingMode_warnsWithTheResetCommand() {
    run("mig", "apply", "-f", file.toString(), "-c", "all-balanced", "--skip-reset");

    CliRun doctor = run("doctor");

    assertTrue(doctor.out().contains("MIG mode change to ENABLED is pending"), doctor.out());
    assertTrue(doctor.out().contains("nvidia-smi -r -i 3"), doctor.out());
  }

  @Test
  void apply_gpuReservedForAVm_isRefusedNamingTheOwner() {
    assertEquals(0, run("allocate", "--gpus", "1", "--owner", "vm-7").exitCode());

    CliRun r = run("mig", "apply", "-f", file.toString(), "-c", "all-balanced");

    assertEquals(1, r.exitCode(), r.toString());
    assertTrue(r.err().contains("is leased to vm-7"), r.err());
    assertTrue(run("mig", "status").out().contains("GPU 0 (0000:17:00.0, NVIDIA B200): MIG "
        + "DISABLED"));
  }

  @Test
  void provisionMig_thenTeardown_leasesOneSliceAndGivesItBack() throws IOException {
    Path two = dir.resolve("two.yaml");
    Files.writeString(two, "version: v1\nmig-configs:\n  two:\n    - devices: [0, 1]\n"
        + "      mig-enabled: true\n      mig-devices: {}\n    - devices: all\n"
        + "      mig-enabled: false\n");
    assertEquals(0, run("mig", "apply", "-f", two.toString(), "-c", "two").exitCode());

    CliRun provision = run("provision", "--mig", "3g.90gb", "--owner", "vm-9", "--json");
    JsonNode lease = JSON.readTree(provision.out());
    CliRun leases = run("leases");
    CliRun refused = run("mig", "apply", "-f", file.toString(), "-c", "all-disabled");
    CliRun teardown = run("teardown", "--owner", "vm-9");
    String status = run("mig", "status").out();

    assertEquals(0, provision.exitCode(), provision.toString());
    assertEquals("3g.90gb", lease.get("migs").get(0).get("profile").asText(), lease.toString());
    assertTrue(leases.out().contains("vm-9"), leases.out());
    assertEquals(1, refused.exitCode(), refused.toString());
    assertTrue(refused.err().contains("is leased to vm-9"), refused.err());
    assertEquals(0, teardown.exitCode(), teardown.toString());
    assertTrue(!status.contains("3g.90gb at"), status);
  }

  @Test
  void provisionMig_migOff_isRefusedNamingWhy() {
    CliRun r = run("provision", "--mig", "3g.90gb", "--owner", "vm-9");

    assertEquals(1, r.exitCode(), r.toString());
    assertTrue(r.err().contains("MIG is DISABLED"), r.err());
    assertTrue(run("leases", "--json").out().strip().equals("[ ]")
        || !run("leases").out().contains("vm-9"));
  }

  @Test
  void provisionMig_onAGraceGb200_leasesASliceOfItsGpu() throws IOException {
    Path grace = dir.resolve("gb200");
    SimulatedHost.create(HostProfile.gb200Nvl4(), grace).close();
    Path on = dir.resolve("on.yaml");
    Files.writeString(on, "version: v1\nmig-configs:\n  on:\n    - devices: all\n"
        + "      mig-enabled: true\n      mig-devices: {}\n");

    CliRun apply = CliRun.withRoot(grace, "mig", "apply", "-f", on.toString(), "-c", "on");
    CliRun provision = CliRun.withRoot(grace, "provision", "--mig", "3g.95gb", "--owner", "vm-9");
    CliRun teardown = CliRun.withRoot(grace, "teardown", "--owner", "vm-9");

    assertEquals(0, apply.exitCode(), apply.toString());
    assertEquals(0, provision.exitCode(), provision.toString());
    assertTrue(provision.out().contains("NVIDIA GB200"), provision.out());
    assertEquals(0, teardown.exitCode(), teardown.toString());
  }
}
