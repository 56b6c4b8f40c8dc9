package io.gpuvirt.testkit.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The simulation itself: its state file, its fakes, its controls. */
final class SimulatedFabricTest {
  @TempDir Path dir;

  private SimulatedFabric b200() {
    return SimulatedFabric.hgxB200(dir.resolve("fm.json"));
  }

  @Test
  void underHostRoot_noState_createsAnHgxB200() {
    assertEquals("HGX B200", SimulatedFabric.underHostRoot(dir).table().platform());
  }

  @Test
  void underHostRoot_existingState_keepsIt() {
    SimulatedFabric.hgxH100(dir.resolve(SimulatedFabric.STATE_PATH));
    assertEquals("HGX H100", SimulatedFabric.underHostRoot(dir).table().platform());
  }

  @Test
  void open_missingState_refused() {
    assertThrows(GpuvirtException.class, () -> SimulatedFabric.open(dir.resolve("none.json")));
  }

  @Test
  void open_corruptState_refusedNamingTheFile() throws Exception {
    Path file = dir.resolve("fm.json");
    Files.writeString(file, "{\"format\":1,\"platform\":");
    GpuvirtException e = assertThrows(GpuvirtException.class, () -> SimulatedFabric.open(file));
    assertTrue(e.getMessage().contains("fm.json"), e.getMessage());
  }

  @Test
  void create_tableNamingModuleIdsTheBoardLacks_refused() {
    assertThrows(InvalidValueException.class, () -> SimulatedFabric.create(
        dir.resolve("fm.json"), FabricTable.hgxB200(), SimulatedGpu.hgxB200().subList(0, 7)));
  }

  @Test
  void activate_concurrentClientsOnSingles_allSucceed() throws Exception {
    SimulatedFabric fabric = b200();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int id = 8; id <= 15; id++) {
        int partition = id;
        done.add(pool.submit(() -> {
          try (FabricManager fm = fabric.connect()) {
            fm.activate(partition);
          }
        }));
      }
      for (Future<?> f : done) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(List.of(8, 9, 10, 11, 12, 13, 14, 15), fabric.activePartitionIds());
  }

  @Test
  void phase_afterRestartDeadline_stopped() {
    SimulatedFabric fabric = b200();
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    fabric.expireRestartDeadline();
    assertEquals(FabricPhase.STOPPED, fabric.phase());
  }

  @Test
  void nvlinkFailedDevices_restartModeAfterReopening_refusedWithNotSupported() {
    SimulatedFabric fabric = b200();
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    fabric.connect().setActivatedPartitions(List.of());
    FabricManager fm = SimulatedFabric.open(fabric.stateFile()).connect();
    assertEquals(FmReturnCode.NOT_SUPPORTED, assertThrows(FabricManagerException.class,
        fm::nvlinkFailedDevices).returnCode());
  }

  @Test
  void open_stateWithoutRestartMode_readsAsNotRestarted() throws Exception {
    SimulatedFabric fabric = b200();
    Path file = fabric.stateFile();
    String old = Files.readString(file).replace("\"restartMode\" : false,", "");
    Files.writeString(file, old);
    assertTrue(!old.contains("restartMode")
        && SimulatedFabric.open(file).connect().nvlinkFailedDevices().isEmpty(), old);
  }

  @Test
  void open_restartModeNotABoolean_refused() throws Exception {
    Path file = b200().stateFile();
    Files.writeString(file, Files.readString(file).replace("\"restartMode\" : false",
        "\"restartMode\" : 1"));
    assertThrows(GpuvirtException.class, () -> SimulatedFabric.open(file));
  }

  @Test
  void phase_withAConnectFaultInjected_leavesTheFaultInPlace() {
    SimulatedFabric fabric = b200();
    fabric.inject(FabricFault.fail(FabricOperation.CONNECT, FmReturnCode.TIMEOUT));
    fabric.phase();
    assertEquals(FmReturnCode.TIMEOUT, assertThrows(FabricManagerException.class,
        fabric::connect).returnCode());
  }

  @Test
  void fmpm_activeAgain_exits239() {
    SimulatedFabric fabric = b200();
    fabric.fmpm().run(Command.of("fmpm", "-a", "3"));
    assertEquals(239, fabric.fmpm().run(Command.of("/usr/bin/fmpm", "-a", "3")).exitCode());
  }

  @Test
  void fmpm_inactive_exits238() {
    assertEquals(238, b200().fmpm().run(Command.of("fmpm", "-d", "3")).exitCode());
  }

  @Test
  void fmpm_list_printsStyledWriterJson() {
    String out = b200().fmpm().run(Command.of("fmpm", "-l")).stdout();
    assertTrue(out.startsWith("{\n   \"maxNumPartitions\" : 64,\n   \"numPartitions\" : 15,\n"),
        out.substring(0, 80));
  }

  @Test
  void fmpm_unknownOption_exits1WithUsage() {
    CommandResult r = b200().fmpm().run(Command.of("fmpm", "--bogus"));
    assertTrue(r.exitCode() == 1 && r.stderr().contains("Usage"), r.toString());
  }

  @Test
  void fmpm_hang_behavesLikeAKilledProcess() {
    SimulatedFabric fabric = b200();
    fabric.inject(FabricFault.hang(FabricOperation.LIST));
    CommandException e = assertThrows(CommandException.class,
        () -> fabric.fmpm().run(Command.of("fmpm", "-l")));
    assertTrue(e.timedOut());
  }

  @Test
  void fmpm_oldReleaseWithDuplicateIds_hangs() {
    SimulatedFabric fabric = b200();
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    assertThrows(CommandException.class, () -> fabric.fmpm().withUncountedSetActivatedList()
        .run(Command.of("fmpm", "--set-activated-list", "3,3")));
  }

  @Test
  void fmpm_otherProgram_failsToStart() {
    assertThrows(CommandException.class, () -> b200().fmpm().run(Command.of("nvidia-smi", "-q")));
  }

  @Test
  void fmpm_wrongHostname_exits247() {
    assertEquals(FmReturnCode.CONNECTION_NOT_VALID.exitStatus(), b200().fmpm()
        .run(Command.of("fmpm", "--hostname", "10.9.9.9", "-l")).exitCode());
  }

  @Test
  void nvidiaSmi_lists8GpusInPciOrder() {
    String out = b200().nvidiaSmi().run(Command.of("nvidia-smi", "-q")).stdout();
    assertTrue(out.indexOf("GPU 00000000:17:00.0") < out.indexOf("GPU 00000000:ED:00.0")
        && out.contains("Attached GPUs                             : 8"), out);
  }

  @Test
  void nvidiaSmi_badArguments_exits2() {
    assertEquals(2, b200().nvidiaSmi().run(Command.of("nvidia-smi", "-x")).exitCode());
  }

  @Test
  void failNvlinks_tooManyPorts_refused() {
    assertThrows(InvalidValueException.class, () -> b200().failNvlinks(
        new io.gpuvirt.core.fabric.NvlinkFailedDevices(List.of(
            new io.gpuvirt.core.fabric.NvlinkFailedDevice("", "", java.util.Collections.nCopies(
                65, 1))), List.of())));
  }

  @Test
  void moduleIdMap_hgxB200_mapsModuleId1ToBus17() {
    assertEquals(java.util.Optional.of(io.gpuvirt.core.pci.PciAddress.parse("0000:17:00.0")),
        b200().moduleIdMap().address(1));
  }

  @Test
  void hgxH100Gpus_areTheSimulatedHostsGpusWithTheirModuleIds() {
    java.util.Map<io.gpuvirt.core.pci.PciAddress, Integer> host = new java.util.TreeMap<>();
    io.gpuvirt.testkit.HostProfile.hgxH100().devices().stream()
        .filter(d -> d.moduleId().isPresent())
        .forEach(d -> host.put(d.address(), d.moduleId().getAsInt()));
    java.util.Map<io.gpuvirt.core.pci.PciAddress, Integer> fabric = new java.util.TreeMap<>();
    SimulatedGpu.hgxH100().forEach(g -> fabric.put(g.address(), g.moduleId()));

    assertEquals(host, fabric);
  }
}
