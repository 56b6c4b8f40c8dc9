package io.gpuvirt.fabric.fmpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricManagerProtocolException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.PartitionGpu;
import io.gpuvirt.core.fabric.RestartAwareFabricManager;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.fabric.FmAddress;
import io.gpuvirt.testkit.fabric.FabricPhase;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** What only the fmpm client does: argv, output parsing, exit statuses, fmpm's old bugs. */
final class FmpmFabricManagerTest {
  @TempDir Path dir;

  /** fmpm -l output as jsoncpp's StyledWriter prints it: two partitions, the second active. */
  private static final String STYLED_LIST = """
      {
         "maxNumPartitions" : 64,
         "numPartitions" : 2,
         "partitionInfo" : [
            {
               "gpuInfo" : [
                  {
                     "maxNumNvLinks" : 18,
                     "numNvLinksAvailable" : 18,
                     "nvlinkLineRateMBps" : 53125,
                     "pciBusId" : "",
                     "physicalId" : 3,
                     "uuid" : ""
                  },
                  {
                     "maxNumNvLinks" : 18,
                     "numNvLinksAvailable" : 18,
                     "nvlinkLineRateMBps" : 53125,
                     "pciBusId" : "",
                     "physicalId" : 4,
                     "uuid" : ""
                  }
               ],
               "isActive" : 0,
               "numGpus" : 2,
               "partitionId" : 5
            },
            {
               "gpuInfo" : [
                  {
                     "maxNumNvLinks" : 18,
                     "numNvLinksAvailable" : 0,
                     "nvlinkLineRateMBps" : 53125,
                     "pciBusId" : "",
                     "physicalId" : 1,
                     "uuid" : ""
                  }
               ],
               "isActive" : 1,
               "numGpus" : 1,
               "partitionId" : 8
            }
         ],
         "version" : 16909068
      }
      """;

  /** A runner that answers every run with one exit status and output, and records the argv. */
  private static final class Scripted implements CommandRunner {
    final List<List<String>> argvs = new ArrayList<>();
    final int exit;
    final String stdout;

    Scripted(int exit, String stdout) {
      this.exit = exit;
      this.stdout = stdout;
    }

    @Override
    public CommandResult run(Command c) {
      argvs.add(c.argv());
      return new CommandResult(c.argv(), exit, stdout, "", Duration.ofMillis(1), false);
    }
  }

  private static FmpmFabricManager client(CommandRunner runner) {
    return FmpmFabricManager.create(runner, FmpmOptions.defaults().withProgram("/usr/bin/fmpm"));
  }

  @Test
  void listPartitions_styledWriterOutput_readsEveryField() {
    assertEquals(List.of(
        new FabricPartition(5, false, List.of(new PartitionGpu(3, 18, 18, 53125),
            new PartitionGpu(4, 18, 18, 53125))),
        new FabricPartition(8, true, List.of(new PartitionGpu(1, 0, 18, 53125)))),
        client(new Scripted(0, STYLED_LIST)).listPartitions());
  }

  @Test
  void listPartitions_textBeforeTheJson_isSkipped() {
    assertEquals(2, client(new Scripted(0, "Connected to 127.0.0.1\n" + STYLED_LIST))
        .listPartitions().size());
  }

  @Test
  void activate_runsFmpmWithTheId() {
    Scripted runner = new Scripted(0, "");
    client(runner).activate(3);
    assertEquals(List.of(List.of("/usr/bin/fmpm", "-a", "3")), runner.argvs);
  }

  @Test
  void deactivate_withHostname_passesTheAddressFirst() {
    Scripted runner = new Scripted(0, "");
    FmpmFabricManager.create(runner, FmpmOptions.defaults()
        .withAddress(FmAddress.tcp("10.0.0.5"))).deactivate(3);
    assertEquals(List.of(List.of("fmpm", "--hostname", "10.0.0.5", "-d", "3")), runner.argvs);
  }

  @Test
  void listPartitions_withUnixSocket_passesTheSocket() {
    Scripted runner = new Scripted(0, STYLED_LIST);
    FmpmFabricManager.create(runner, FmpmOptions.defaults()
        .withAddress(FmAddress.unixSocket("/run/fm.sock"))).listPartitions();
    assertEquals(List.of("fmpm", "--unix-domain-socket", "/run/fm.sock", "-l"),
        runner.argvs.get(0));
  }

  @Test
  void setActivatedPartitions_passesIdsCommaSeparatedWithoutSpaces() {
    Scripted runner = new Scripted(0, STYLED_LIST);
    assertThrows(FabricManagerProtocolException.class,
        () -> client(runner).setActivatedPartitions(List.of(8, 2, 3)));
    assertEquals(List.of("/usr/bin/fmpm", "--set-activated-list", "8,2,3"), runner.argvs.get(0));
  }

  @Test
  void setActivatedPartitions_duplicateIds_refusedWithoutRunningFmpm() {
    Scripted runner = new Scripted(0, "");
    assertThrows(FabricManagerException.class,
        () -> client(runner).setActivatedPartitions(List.of(3, 3)));
    assertEquals(List.of(), runner.argvs);
  }

  @Test
  void setActivatedPartitions_fmpmThatDropsTheList_detected() {
    SimulatedFabric fabric = SimulatedFabric.hgxB200(dir.resolve("fm.json"));
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    FmpmFabricManager fm = FmpmFabricManager.create(
        fabric.fmpm().withUncountedSetActivatedList(), FmpmOptions.defaults());
    FabricManagerProtocolException e = assertThrows(FabricManagerProtocolException.class,
        () -> fm.setActivatedPartitions(List.of(4, 7)));
    assertTrue(e.getMessage().contains("upgrade fmpm"), e.getMessage());
  }

  @Test
  void setActivatedPartitions_duplicateIdsForAnOldFmpm_refusedAndFabricManagerStillWaits() {
    // an fmpm from before the 2026-04 fix loops forever on a duplicate id; it must never run
    SimulatedFabric fabric = SimulatedFabric.hgxB200(dir.resolve("fm.json"));
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    FmpmFabricManager fm = FmpmFabricManager.create(
        fabric.fmpm().withUncountedSetActivatedList(), FmpmOptions.defaults());
    assertEquals(FmReturnCode.BADPARAM, assertThrows(FabricManagerException.class,
        () -> fm.setActivatedPartitions(List.of(4, 7, 4))).returnCode());
    assertEquals(FabricPhase.AWAITING_ACTIVATED_LIST, fabric.phase());
  }

  @Test
  void restartAware_oldFmpmDropsTheLeasedList_refusedAsProtocolError() {
    SimulatedFabric fabric = SimulatedFabric.hgxB200(dir.resolve("fm.json"));
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    FabricManager fm = RestartAwareFabricManager.wrap(FmpmFabricManager.create(
        fabric.fmpm().withUncountedSetActivatedList(), FmpmOptions.defaults()),
        () -> List.of(4, 7));
    FabricManagerProtocolException e = assertThrows(FabricManagerProtocolException.class,
        fm::listPartitions);
    assertTrue(e.getMessage().contains("upgrade fmpm"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"239, PARTITION_ID_IN_USE", "238, PARTITION_ID_NOT_IN_USE", "249, IN_USE",
      "248, NOT_CONFIGURED", "247, CONNECTION_NOT_VALID", "255, BADPARAM", "246, NVLINK_ERROR"})
  void activate_exitStatus_mapsToReturnCode(int status, FmReturnCode code) {
    FabricManagerException e = assertThrows(FabricManagerException.class,
        () -> client(new Scripted(status, "Failed to activate partition. fmReturn: "
            + (status - 256) + "\n")).activate(4));
    assertEquals(code, e.returnCode());
  }

  @Test
  void ensureActive_exit239_treatedAsAlreadyActive() {
    assertFalse(client(new Scripted(239, "")).ensureActive(4));
  }

  @Test
  void ensureInactive_exit238_treatedAsAlreadyInactive() {
    assertFalse(client(new Scripted(238, "")).ensureInactive(4));
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 127, 200, 226})
  void activate_exitStatusThatIsNoReturnCode_refusedAsProtocolError(int status) {
    FabricManagerProtocolException e = assertThrows(FabricManagerProtocolException.class,
        () -> client(new Scripted(status, "usage: fmpm ...")).activate(4));
    assertTrue(e.getMessage().contains("status " + status), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "",
      "garbage",
      "Segmentation fault",
      "{",
      "{\"numPartitions\" : 1, \"partitionInfo\" : [ { \"gpuInfo\" : [",
      "[1, 2]",
      "{\"numPartitions\" : 2, \"partitionInfo\" : []}",
      "{\"partitionInfo\" : []}",
      "{\"numPartitions\" : -1, \"partitionInfo\" : []}",
      "{\"numPartitions\" : \"1\", \"partitionInfo\" : []}",
      "{\"numPartitions\" : 1, \"partitionInfo\" : {}}",
      "{\"numPartitions\" : 1, \"partitionInfo\" : [{\"partitionId\" : 99, \"isActive\" : 0,"
          + " \"numGpus\" : 0, \"gpuInfo\" : []}]}",
      "{\"numPartitions\" : 1, \"partitionInfo\" : [{\"partitionId\" : 1, \"isActive\" : 7,"
          + " \"numGpus\" : 0, \"gpuInfo\" : []}]}",
      "{\"numPartitions\" : 1, \"partitionInfo\" : [{\"partitionId\" : 1, \"isActive\" : 0,"
          + " \"numGpus\" : 1, \"gpuInfo\" : [{\"physicalId\" : 1}]}]}",
      "{\"numPartitions\" : 1, \"partitionInfo\" : [{\"partitionId\" : 1, \"isActive\" : 0,"
          + " \"numGpus\" : 2, \"gpuInfo\" : [{\"physicalId\" : 1, \"numNvLinksAvailable\" : 0,"
          + " \"maxNumNvLinks\" : 0, \"nvlinkLineRateMBps\" : 0}, {\"physicalId\" : 1,"
          + " \"numNvLinksAvailable\" : 0, \"maxNumNvLinks\" : 0, \"nvlinkLineRateMBps\" : 0}]}]}",
      "{\"numPartitions\" : 2, \"partitionInfo\" : [{\"partitionId\" : 1, \"isActive\" : 0,"
          + " \"numGpus\" : 0, \"gpuInfo\" : []}, {\"partitionId\" : 1, \"isActive\" : 0,"
          + " \"numGpus\" : 0, \"gpuInfo\" : []}]}"})
  void listPartitions_badOutput_refusedAsProtocolError(String stdout) {
    assertThrows(FabricManagerProtocolException.class,
        () -> client(new Scripted(0, stdout)).listPartitions());
  }

  @Test
  void listPartitions_truncatedOutput_refusedAsProtocolError() {
    String half = STYLED_LIST.substring(0, STYLED_LIST.length() / 2);
    assertThrows(FabricManagerProtocolException.class,
        () -> client(new Scripted(0, half)).listPartitions());
  }

  @Test
  void unsupportedPartitionIds_badOutput_refusedAsProtocolError() {
    assertThrows(FabricManagerProtocolException.class,
        () -> client(new Scripted(0, "{\"numPartitions\" : 1}")).unsupportedPartitionIds());
  }

  @Test
  void nvlinkFailedDevices_portsCountDisagrees_refusedAsProtocolError() {
    String out = "{\"numGpus\" : 1, \"numSwitches\" : 0, \"gpuInfo\" : [{\"uuid\" : \"\","
        + " \"pciBusId\" : \"\", \"numPorts\" : 2, \"portNum\" : [1]}], \"switchInfo\" : []}";
    assertThrows(FabricManagerProtocolException.class,
        () -> client(new Scripted(0, out)).nvlinkFailedDevices());
  }

  @Test
  void listPartitions_fmpmHangs_refusedWithTimeout() {
    CommandRunner hangs = c -> {
      throw new CommandException(c.argv(), "fmpm ran past its timeout", null, true);
    };
    assertEquals(FmReturnCode.TIMEOUT, assertThrows(FabricManagerException.class,
        () -> client(hangs).listPartitions()).returnCode());
  }

  @Test
  void listPartitions_fmpmMissing_raisesTheCommandError() {
    CommandRunner missing = c -> {
      throw new CommandException(c.argv(), "could not start fmpm", null);
    };
    assertThrows(CommandException.class, () -> client(missing).listPartitions());
  }

  @Test
  void listPartitions_realFmpmProcessThatIsMissing_raisesTheCommandError() {
    FmpmFabricManager fm = FmpmFabricManager.create(CommandRunner.system(),
        FmpmOptions.defaults().withProgram(dir.resolve("fmpm").toString()));
    assertThrows(CommandException.class, fm::listPartitions);
  }
}
