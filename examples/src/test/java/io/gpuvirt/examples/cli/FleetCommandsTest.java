package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.fleet.testing.TestPostgres;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gpuvirt fleet} end to end: two simulated HGX B200 hosts registered in a real PostgreSQL,
 * an allocation from the control plane, the host agent provisioning it (then {@code qemu-args}
 * renders the VM), a release and the agent giving the GPUs back; and the refusals.
 */
final class FleetCommandsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  private String jdbc;
  private Path hostA;
  private Path hostB;

  @BeforeEach
  void fleet() {
    jdbc = TestPostgres.require().freshSchema().url();
    hostA = dir.resolve("hgx-a");
    hostB = dir.resolve("hgx-b");
    SimulatedHost.create(HostProfile.hgxB200(), hostA).close();
    SimulatedHost.create(HostProfile.hgxB200(), hostB).close();
  }

  private static CliRun run(String... args) {
    return CliRun.of(args);
  }

  private CliRun ok(String... args) {
    CliRun r = run(args);
    assertEquals(0, r.exitCode(), r.toString());
    return r;
  }

  private static JsonNode json(CliRun r) throws IOException {
    return JSON.readTree(r.out());
  }

  private void registered() {
    ok("fleet", "migrate", "--jdbc", jdbc);
    ok("fleet", "register", "--jdbc", jdbc, "--host", "hgx-a", "--root", hostA.toString());
    ok("fleet", "register", "--jdbc", jdbc, "--host", "hgx-b", "--root", hostB.toString());
  }

  @Test
  void migrate_twice_isCurrentTheSecondTime() throws IOException {
    JsonNode first = json(ok("fleet", "migrate", "--jdbc", jdbc, "--json"));
    JsonNode second = json(ok("fleet", "migrate", "--jdbc", jdbc, "--json"));

    assertEquals(0, first.get("from").asInt());
    assertEquals(second.get("to").asInt(), second.get("from").asInt());
  }

  @Test
  void register_b200_publishesEightGpusAndItsPartitions() throws IOException {
    ok("fleet", "migrate", "--jdbc", jdbc);

    JsonNode r = json(ok("fleet", "register", "--jdbc", jdbc, "--host", "hgx-a", "--root",
        hostA.toString(), "--json"));
    JsonNode again = json(ok("fleet", "register", "--jdbc", jdbc, "--host", "hgx-a", "--root",
        hostA.toString(), "--json"));

    assertEquals(8, r.get("gpus").asInt());
    assertTrue(r.get("partitions").asInt() > 8, r.toString());
    assertTrue(r.get("changed").asBoolean());
    assertEquals(false, again.get("changed").asBoolean(), "an unchanged inventory changes nothing");
  }

  @Test
  void allocateAgentRelease_endToEnd_provisionsOnTheLeasesHostAndGivesTheGpusBack()
      throws IOException {
    registered();

    JsonNode lease = json(ok("fleet", "allocate", "--jdbc", jdbc, "--gpus", "4", "--owner",
        "vm-42", "--json"));
    String host = lease.get("host").asText();
    Path root = host.equals("hgx-a") ? hostA : hostB;
    JsonNode round = json(ok("fleet", "agent", "--jdbc", jdbc, "--host", host, "--root",
        root.toString(), "--json"));
    CliRun qemu = ok("qemu-args", "--owner", "vm-42", "--qemu-version", "10.1.0", "--root",
        root.toString());
    JsonNode listed = json(ok("fleet", "list", "--jdbc", jdbc, "--json"));

    assertEquals("vm-42", round.get("provisioned").get(0).asText(), round.toString());
    Set<String> fleetGpus = new TreeSet<>();
    lease.get("gpus").forEach(g -> fleetGpus.add(g.get("address").asText()));
    Set<String> onHost = new TreeSet<>();
    LeaseLedger.open(root.resolve("var/lib/gpuvirt")).lease("vm-42").orElseThrow()
        .requestedDevices().forEach(d -> onHost.add(d.address().toString()));
    assertEquals(fleetGpus, onHost);
    for (String gpu : fleetGpus) {
      assertTrue(qemu.out().contains("host=" + gpu), gpu + " not in " + qemu.out());
    }
    assertEquals("PROVISIONED", listed.get("leases").get(0).get("state").asText());

    ok("fleet", "release", "--jdbc", jdbc, "--owner", "vm-42");
    JsonNode back = json(ok("fleet", "agent", "--jdbc", jdbc, "--host", host, "--root",
        root.toString(), "--json"));

    assertTrue(back.get("tornDown").has("vm-42"), back.toString());
    assertEquals(List.of(), LeaseLedger.open(root.resolve("var/lib/gpuvirt")).leases());
  }

  @Test
  void list_text_showsHostsAndLeases() {
    registered();
    ok("fleet", "allocate", "--jdbc", jdbc, "--gpus", "8", "--owner", "vm-8");

    String out = ok("fleet", "list", "--jdbc", jdbc).out();

    assertTrue(out.contains("hgx-a") && out.contains("hgx-b") && out.contains("vm-8"), out);
    assertTrue(out.contains("live"), out);
  }

  @Test
  void allocate_moreThanAnyHostHas_isRefusedWithExitCode1() {
    registered();

    CliRun r = run("fleet", "allocate", "--jdbc", jdbc, "--gpus", "16", "--owner", "vm-16");

    assertEquals(1, r.exitCode(), r.toString());
    assertTrue(r.err().contains("2 of 2 hosts live"), r.err());
  }

  @Test
  void release_ownerWithoutLease_succeedsAndChangesNothing() throws IOException {
    registered();

    JsonNode r = json(ok("fleet", "release", "--jdbc", jdbc, "--owner", "vm-none", "--json"));

    assertEquals(false, r.get("released").asBoolean());
  }

  @Test
  void anyCommand_schemaNotMigrated_saysToMigrate() {
    CliRun r = run("fleet", "list", "--jdbc", jdbc);

    assertEquals(2, r.exitCode(), r.toString());
    assertTrue(r.err().contains("migrate"), r.err());
  }

  @Test
  void agent_hostNeverRegistered_exitsWith2AndSaysToRegister() {
    ok("fleet", "migrate", "--jdbc", jdbc);

    CliRun r = run("fleet", "agent", "--jdbc", jdbc, "--host", "hgx-a", "--root",
        hostA.toString());

    assertEquals(2, r.exitCode(), r.toString());
    assertTrue(r.err().contains("fleet register"), r.err());
  }

  @Test
  void hostileArguments_areRefusedBeforeAnythingRuns() {
    List<List<String>> bad = List.of(
        List.of("fleet", "list", "--jdbc", "jdbc:mysql://127.0.0.1/fleet"),
        List.of("fleet", "list", "--jdbc", "postgresql://127.0.0.1/fleet"),
        List.of("fleet", "register", "--jdbc", jdbc, "--host", "a b", "--root", hostA.toString()),
        List.of("fleet", "register", "--jdbc", jdbc, "--host", "../etc", "--root",
            hostA.toString()),
        List.of("fleet", "register", "--jdbc", jdbc, "--host", "hgx-a\n", "--root",
            hostA.toString()),
        List.of("fleet", "allocate", "--jdbc", jdbc, "--gpus", "-1", "--owner", "vm-1"),
        List.of("fleet", "allocate", "--jdbc", jdbc, "--gpus", "2", "--owner", "@vm"),
        List.of("fleet", "allocate", "--jdbc", jdbc, "--gpus", "2", "--owner", "vm-1",
            "--model", "10de:29zz"),
        List.of("fleet", "register", "--jdbc", jdbc, "--host", "hgx-a", "--heartbeat", "0",
            "--root", hostA.toString()));
    List<String> failures = new ArrayList<>();
    for (List<String> args : bad) {
      CliRun r = run(args.toArray(String[]::new));
      if (r.exitCode() != 2 || r.err().isBlank() || r.err().contains("Exception")) {
        failures.add(args + " -> " + r);
      }
    }
    assertEquals(List.of(), failures);
    // nothing reached the database: its schema was never created
    assertEquals(2, run("fleet", "list", "--jdbc", jdbc).exitCode());
  }

  @Test
  void allocate_hostAndNumaNode_landsThereOnly() throws IOException {
    registered();

    JsonNode lease = json(ok("fleet", "allocate", "--jdbc", jdbc, "--gpus", "2", "--owner",
        "vm-2", "--host", "hgx-b", "--numa-node", "1", "--json"));

    assertEquals("hgx-b", lease.get("host").asText());
    lease.get("gpus").forEach(g -> assertEquals(1, g.get("numaNode").asInt(), g.toString()));
  }

  @Test
  void remove_hostWithLease_isRefusedThenRemovedAfterRelease() throws IOException {
    registered();
    ok("fleet", "allocate", "--jdbc", jdbc, "--gpus", "8", "--owner", "vm-8", "--host",
        "hgx-a");

    CliRun refused = run("fleet", "remove", "--jdbc", jdbc, "--host", "hgx-a");
    ok("fleet", "release", "--jdbc", jdbc, "--owner", "vm-8");
    JsonNode removed = json(ok("fleet", "remove", "--jdbc", jdbc, "--host", "hgx-a", "--json"));

    assertEquals(1, refused.exitCode(), refused.toString());
    assertTrue(refused.err().contains("vm-8"), refused.err());
    assertTrue(removed.get("removed").asBoolean());
    assertTrue(json(ok("fleet", "list", "--jdbc", jdbc, "--json")).get("hosts").toString()
        .contains("hgx-b"));
  }
}
