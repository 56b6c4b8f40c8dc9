package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.ModuleIdMapStore;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** State that lies: status flags it (exit 1) and the operations that would act on it stop. */
final class LyingStateCommandsTest {
  @TempDir Path dir;
  private SimulatedHost host;

  @AfterEach
  void close() {
    host.close();
  }

  private Path state() {
    return dir.resolve("state");
  }

  private CliRun run(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--root", host.root().toString(), "--state", state().toString()));
    return CliRun.of(all.toArray(String[]::new));
  }

  private void editLedger(String from, String to) throws Exception {
    // What an operator does before editing leases.json by hand: fold the journal into it.
    io.gpuvirt.core.ledger.LeaseLedger.open(state()).compact();
    Path file = state().resolve("leases.json");
    String text = Files.readString(file);
    assertTrue(text.contains(from), text);
    Files.writeString(file, text.replace(from, to));
  }

  @Test
  void leaseNamingPartition999_isFlaggedByStatusAndStopsTeardown() throws Exception {
    host = SimulatedHost.hgxB200();
    assertEquals(0, run("provision", "--gpus", "2", "--owner", "vm-1", "--qemu-version",
        "10.1.0").exitCode());
    List<Integer> active = SimulatedFabric.underHostRoot(host.root()).activePartitionIds();
    editLedger("\"partition\" : " + active.get(0), "\"partition\" : 999");

    CliRun status = run("status");
    CliRun teardown = run("teardown", "--owner", "vm-1");

    assertEquals(List.of(1, 1, active), List.of(status.exitCode(), teardown.exitCode(),
        SimulatedFabric.underHostRoot(host.root()).activePartitionIds()));
    assertTrue(status.out().contains("LEASED_PARTITION_UNKNOWN"), status.out());
    assertTrue(teardown.err().contains("stopped before changing anything"), teardown.err());
  }

  @Test
  void moduleIdMapSendingAModuleToANic_isFlaggedByStatusAndStopsProvisioning() {
    host = SimulatedHost.hgxB200();
    ModuleIdMap real = SimulatedFabric.underHostRoot(host.root()).moduleIdMap();
    Map<Integer, PciAddress> lying = new TreeMap<>(real.byModuleId());
    PciAddress nic = io.gpuvirt.core.pci.TopologyScanner.scan(host.sysfs()).devices().stream()
        .filter(d -> d.id().vendor() == 0x15b3).findFirst().orElseThrow().address();
    lying.put(1, nic);
    new ModuleIdMapStore(state()).save(new ModuleIdMap(lying));

    CliRun status = run("status");
    CliRun provision = run("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version",
        "10.1.0");

    assertEquals(1, status.exitCode(), status.out());
    assertTrue(status.out().contains("MODULE_ID_MAP_INVALID") && status.out().contains(
        nic.toString()), status.out());
    assertTrue(provision.exitCode() != 0 && provision.err().contains(nic.toString()),
        provision.err());
  }

  @Test
  void allocateWithALifetime_showsItsDeadlineInLeases() {
    host = SimulatedHost.workstation();

    assertEquals(0, run("allocate", "--gpus", "1", "--owner", "r-1", "--expires-in", "600")
        .exitCode());

    assertTrue(run("leases").out().contains("reserved until"), run("leases").out());
  }
}
