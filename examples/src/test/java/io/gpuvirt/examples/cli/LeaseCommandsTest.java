package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.ledger.LeaseLedger;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** allocate, release, leases and reconcile against a sysfs tree read by the real scanner. */
final class LeaseCommandsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  private Path root;
  private Path state;
  private StringWriter out;
  private StringWriter err;

  @BeforeEach
  void writeHost() throws IOException {
    root = dir.resolve("host");
    state = dir.resolve("state");
    GpuHostTree.write(root, 4);
  }

  private int run(String... args) {
    out = new StringWriter();
    err = new StringWriter();
    CommandLine cl = Cli.commandLine(new GpuvirtCli());
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    List<String> all = new ArrayList<>(List.of(args));
    if (!args[0].equals("release") && !args[0].equals("leases")) {
      all.addAll(List.of("--root", root.toString()));
    }
    all.addAll(List.of("--state", state.toString()));
    return cl.execute(all.toArray(String[]::new));
  }

  private JsonNode json() throws IOException {
    return JSON.readTree(out.toString());
  }

  @Test
  void allocate_twoGpus_printsTheLeaseOnOneNumaNode() {
    assertEquals(0, run("allocate", "--gpus", "2", "--owner", "vm-42"));
    assertTrue(out.toString().startsWith("vm-42: 2 x gpu, IOMMU groups 10,11, NUMA 0 (ALLOCATED"),
        out.toString());
  }

  @Test
  void allocate_json_namesOwnerGroupsAndOriginalDriver() throws IOException {
    assertEquals(0, run("allocate", "--gpus", "1", "--owner", "vm-42", "--device", "10de:2901",
        "--json"));
    JsonNode lease = json();
    assertEquals(List.of("vm-42", "nvidia", "10de:2901"), List.of(lease.get("owner").asText(),
        lease.at("/groups/0/devices/0/originalDriver").asText(),
        lease.at("/request/selector").asText()));
  }

  @Test
  void allocate_sameOwnerAgain_returnsTheSameLease() throws IOException {
    run("allocate", "--gpus", "2", "--owner", "vm-42", "--json");
    JsonNode first = json();

    assertEquals(0, run("allocate", "--gpus", "2", "--owner", "vm-42", "--json"));
    assertEquals(first, json());
  }

  @Test
  void allocate_moreThanFree_isRefusedWithExit1AndTheReason() {
    run("allocate", "--gpus", "3", "--owner", "vm-1");

    assertEquals(1, run("allocate", "--gpus", "2", "--owner", "vm-2"));
    assertTrue(err.toString().contains("1 free in whole IOMMU groups")
        && err.toString().contains("leased: 3 to vm-1"), err.toString());
  }

  @Test
  void allocate_badSelector_isAnErrorWithExit2() {
    assertEquals(2, run("allocate", "--gpus", "1", "--owner", "vm-1", "--device", "nvidia"));
    assertTrue(err.toString().contains("invalid device selector 'nvidia'"), err.toString());
  }

  @Test
  void allocate_badOwner_isAnErrorWithExit2() {
    assertEquals(2, run("allocate", "--gpus", "1", "--owner", "../vm"));
  }

  @Test
  void allocate_spread_usesBothNumaNodes() {
    assertEquals(0, run("allocate", "--gpus", "2", "--owner", "vm-1", "--placement", "spread"));
    assertTrue(out.toString().contains("NUMA 0,1"), out.toString());
  }

  @Test
  void allocate_corruptLedger_isExit2AndTheFileIsKept() throws IOException {
    Files.createDirectories(state);
    Files.writeString(state.resolve("leases.json"), "{ torn");

    assertEquals(2, run("allocate", "--gpus", "1", "--owner", "vm-1"));
    assertArrayEquals("{ torn".getBytes(), Files.readAllBytes(state.resolve("leases.json")));
  }

  @Test
  void leasesCompact_foldsTheJournalSoLeasesJsonHoldsEveryLease() throws IOException {
    run("allocate", "--gpus", "1", "--owner", "vm-1");
    run("allocate", "--gpus", "1", "--owner", "vm-2");
    boolean journalBefore = Files.exists(state.resolve("leases.journal"));

    assertEquals(0, run("leases", "--compact", "--json"));

    assertEquals(List.of(true, false, "vm-2"), List.of(journalBefore,
        Files.exists(state.resolve("leases.journal")), json().get(1).get("owner").asText()));
    assertTrue(err.toString().contains("folded 1 journal commits into"), err.toString());
    assertTrue(Files.readString(state.resolve("leases.json")).contains("\"vm-2\""));
  }

  @Test
  void release_thenLeases_listsNoLease() {
    run("allocate", "--gpus", "1", "--owner", "vm-1");

    assertEquals(0, run("release", "--owner", "vm-1"));
    run("leases");
    assertEquals(1, out.toString().lines().count(), out.toString());
  }

  @Test
  void release_unknownOwner_succeedsSayingSo() {
    assertEquals(0, run("release", "--owner", "vm-9"));
    assertEquals("vm-9 holds no lease; nothing to release", out.toString().strip());
  }

  @Test
  void release_json_saysWhetherALeaseWasReleased() throws IOException {
    run("allocate", "--gpus", "1", "--owner", "vm-1");

    run("release", "--owner", "vm-1", "--json");
    assertEquals(List.of(true, 10), List.of(json().get("released").asBoolean(),
        json().at("/lease/groups/0/number").asInt()));
  }

  @Test
  void leases_table_hasARowPerOwner() {
    run("allocate", "--gpus", "1", "--owner", "vm-1");
    run("allocate", "--gpus", "2", "--owner", "vm-2");

    assertEquals(0, run("leases"));
    assertEquals(List.of("OWNER", "vm-1", "vm-2"), out.toString().lines()
        .map(l -> l.split(" ")[0]).toList());
  }

  @Test
  void leases_json_isAnArrayOfLeases() throws IOException {
    run("allocate", "--gpus", "1", "--owner", "vm-1");

    assertEquals(0, run("leases", "--json"));
    assertEquals("vm-1", json().get(0).get("owner").asText());
  }

  @Test
  void leases_unknownOwner_isExit1() {
    assertEquals(1, run("leases", "--owner", "vm-1"));
  }

  @Test
  void reconcile_vfioGpuWithoutLease_isExit1NamingIt() throws IOException {
    GpuHostTree.bind(root, GpuHostTree.gpu(3), "vfio-pci");

    assertEquals(1, run("reconcile"));
    assertTrue(out.toString().startsWith("UNLEASED_VFIO_DEVICE " + GpuHostTree.gpu(3)),
        out.toString());
  }

  @Test
  void reconcile_repair_dropsABoundLeaseWhoseGpuIsBackOnNvidia() {
    run("allocate", "--gpus", "1", "--owner", "vm-1");
    LeaseLedger.open(state).updateState("vm-1", LeaseState.BOUND);

    assertEquals(0, run("reconcile", "--repair"));
    assertEquals(List.of(), LeaseLedger.open(state).leases());
  }

  @Test
  void gpuvirtHelp_listsTheLeaseCommands() {
    StringWriter help = new StringWriter();
    CommandLine cl = Cli.commandLine(new GpuvirtCli());
    cl.setOut(new PrintWriter(help));
    cl.execute("--help");

    assertTrue(help.toString().contains("allocate") && help.toString().contains("release")
        && help.toString().contains("leases") && help.toString().contains("reconcile"),
        help.toString());
  }
}
