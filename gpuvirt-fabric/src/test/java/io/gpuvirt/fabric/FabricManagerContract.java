package io.gpuvirt.fabric;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.NvlinkFailedDevice;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.testkit.fabric.FabricFault;
import io.gpuvirt.testkit.fabric.FabricOperation;
import io.gpuvirt.testkit.fabric.FabricTable;
import io.gpuvirt.testkit.fabric.FmGeneration;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What every {@link FabricManager} implementation must do, against one simulated Fabric Manager:
 * the simulation's own client, the fmpm client over the fake fmpm, and the libnvfm client over the
 * simulated libnvfm built with gcc. Every error path is here, so the three cannot drift apart.
 */
abstract class FabricManagerContract {
  @TempDir Path dir;
  SimulatedFabric fabric;
  private final List<FabricManager> opened = new ArrayList<>();

  /** Connects the client under test to {@code fabric}. */
  abstract FabricManager connect(SimulatedFabric fabric);

  /**
   * Whether the client can pass a VF list ({@code fmActivateFabricPartitionWithVFs}): libnvfm and
   * the simulation's own client can, the {@code fmpm} CLI has no option for one.
   */
  boolean passesVirtualFunctions() {
    return true;
  }

  @BeforeEach
  void createFabric() {
    fabric = SimulatedFabric.hgxB200(dir.resolve("fm").resolve("fabricmanager.json"));
  }

  @AfterEach
  void closeClients() {
    opened.forEach(FabricManager::close);
  }

  FabricManager client() {
    FabricManager fm = connect(fabric);
    opened.add(fm);
    return fm;
  }

  static FmReturnCode refusal(Executable call) {
    return assertThrows(FabricManagerException.class, call).returnCode();
  }

  private FmReturnCode refusalOfFreshClient() {
    return refusal(() -> {
      try (FabricManager fm = connect(fabric)) {
        fm.listPartitions();
      }
    });
  }

  private static Set<Integer> activeIds(FabricManager fm) {
    TreeSet<Integer> ids = new TreeSet<>();
    fm.listPartitions().stream().filter(FabricPartition::active).forEach(p -> ids.add(p.id()));
    return ids;
  }

  // ---- listing ----------------------------------------------------------------------------------

  @Test
  void listPartitions_hgxB200_returnsTheDefaultTable() {
    assertEquals(FabricTable.hgxB200().partitions(), client().listPartitions());
  }

  @Test
  void listPartitions_hgxB200_hasIds1To15AndNo0() {
    assertEquals(IntStream.rangeClosed(1, 15).boxed().toList(),
        client().listPartitions().stream().map(FabricPartition::id).toList());
  }

  @Test
  void listPartitions_hgxH100_returnsIds0To14Table() {
    fabric = SimulatedFabric.hgxH100(dir.resolve("h100.json"));
    assertEquals(FabricTable.hgxH100().partitions(), client().listPartitions());
  }

  // ---- activate / deactivate --------------------------------------------------------------------

  @Test
  void activate_freePartition_listsItActive() {
    FabricManager fm = client();
    fm.activate(4);
    assertEquals(Set.of(4), activeIds(fm));
  }

  @Test
  void activate_disjointPartitions_bothActive() {
    FabricManager fm = client();
    fm.activate(2);
    fm.activate(3);
    assertEquals(Set.of(2, 3), activeIds(fm));
  }

  @Test
  void activate_activePartition_refusedWithPartitionIdInUse() {
    FabricManager fm = client();
    fm.activate(4);
    assertEquals(FmReturnCode.PARTITION_ID_IN_USE, refusal(() -> fm.activate(4)));
  }

  @Test
  void activate_activePartitionOn535_refusedWithInUse() {
    fabric.setGeneration(FmGeneration.R535);
    FabricManager fm = client();
    fm.activate(4);
    assertEquals(FmReturnCode.IN_USE, refusal(() -> fm.activate(4)));
  }

  @Test
  void activate_overlappingPartition_refusedWithInUse() {
    FabricManager fm = client();
    fm.activate(4);
    assertEquals(FmReturnCode.IN_USE, refusal(() -> fm.activate(2)));
  }

  @Test
  void activate_overlappingPartition_changesNothing() {
    FabricManager fm = client();
    fm.activate(8);
    refusal(() -> fm.activate(1));
    assertEquals(Set.of(8), activeIds(fm));
  }

  @Test
  void activate_partition0OnB200_refusedWithBadparam() {
    assertEquals(FmReturnCode.BADPARAM, refusal(() -> client().activate(0)));
  }

  @ParameterizedTest
  @ValueSource(ints = {-1, 64, 1000})
  void activate_idOutOfRange_refusedWithBadparam(int id) {
    assertEquals(FmReturnCode.BADPARAM, refusal(() -> client().activate(id)));
  }

  @Test
  void activate_unsupportedPartition_refusedWithNotSupported() {
    fabric.markUnsupported(5);
    assertEquals(FmReturnCode.NOT_SUPPORTED, refusal(() -> client().activate(5)));
  }

  @Test
  void deactivate_activePartition_listsItInactive() {
    FabricManager fm = client();
    fm.activate(1);
    fm.deactivate(1);
    assertEquals(Set.of(), activeIds(fm));
  }

  @Test
  void deactivate_inactivePartition_refusedWithPartitionIdNotInUse() {
    assertEquals(FmReturnCode.PARTITION_ID_NOT_IN_USE, refusal(() -> client().deactivate(3)));
  }

  @Test
  void deactivate_inactivePartitionOn535_refusedWithUninitialized() {
    fabric.setGeneration(FmGeneration.R535);
    assertEquals(FmReturnCode.UNINITIALIZED, refusal(() -> client().deactivate(3)));
  }

  @Test
  void deactivate_unknownPartition_refusedWithBadparam() {
    assertEquals(FmReturnCode.BADPARAM, refusal(() -> client().deactivate(0)));
  }

  // ---- idempotent forms (what ubicloud relies on) ----------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"R535", "R610"})
  void ensureActive_activePartition_returnsFalse(String generation) {
    fabric.setGeneration(FmGeneration.valueOf(generation));
    FabricManager fm = client();
    fm.activate(6);
    assertFalse(fm.ensureActive(6));
  }

  @ParameterizedTest
  @ValueSource(strings = {"R535", "R610"})
  void ensureActive_overlappingPartition_refusedWithInUse(String generation) {
    fabric.setGeneration(FmGeneration.valueOf(generation));
    FabricManager fm = client();
    fm.activate(6);
    assertEquals(FmReturnCode.IN_USE, refusal(() -> fm.ensureActive(3)));
  }

  @Test
  void ensureActive_inactivePartition_activatesIt() {
    FabricManager fm = client();
    assertTrue(fm.ensureActive(7) && activeIds(fm).equals(Set.of(7)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"R535", "R610"})
  void ensureInactive_inactivePartition_returnsFalse(String generation) {
    fabric.setGeneration(FmGeneration.valueOf(generation));
    assertFalse(client().ensureInactive(2));
  }

  // ---- life cycle -------------------------------------------------------------------------------

  @Test
  void listPartitions_whileStarting_refusedWithNotConfigured() {
    fabric.startSlowly();
    assertEquals(FmReturnCode.NOT_CONFIGURED, refusal(() -> client().listPartitions()));
  }

  @Test
  void activate_whileStarting_refusedWithNotConfigured() {
    fabric.startSlowly();
    assertEquals(FmReturnCode.NOT_CONFIGURED, refusal(() -> client().activate(1)));
  }

  @Test
  void listPartitions_afterStartingFinished_answers() {
    fabric.startSlowly();
    FabricManager fm = client();
    fabric.finishStarting();
    assertEquals(15, fm.listPartitions().size());
  }

  @Test
  void listPartitions_restartModeBeforeSetActivated_refusedWithNotConfigured() {
    client().activate(2);
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    assertEquals(FmReturnCode.NOT_CONFIGURED, refusal(() -> client().listPartitions()));
  }

  @Test
  void setActivatedPartitions_inRestartMode_restoresActivePartitions() {
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    FabricManager fm = client();
    fm.setActivatedPartitions(List.of(4, 7));
    assertEquals(Set.of(4, 7), activeIds(fm));
  }

  @Test
  void setActivatedPartitions_emptyInRestartMode_leavesNoneActive() {
    client().activate(1);
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    FabricManager fm = client();
    fm.setActivatedPartitions(List.of());
    assertEquals(Set.of(), activeIds(fm));
  }

  @Test
  void setActivatedPartitions_overlappingIds_refusedWithBadparam() {
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    assertEquals(FmReturnCode.BADPARAM,
        refusal(() -> client().setActivatedPartitions(List.of(2, 4))));
  }

  @Test
  void setActivatedPartitions_unknownId_refusedWithBadparam() {
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    assertEquals(FmReturnCode.BADPARAM,
        refusal(() -> client().setActivatedPartitions(List.of(0))));
  }

  @Test
  void setActivatedPartitions_duplicateIds_refusedWithBadparam() {
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    assertEquals(FmReturnCode.BADPARAM,
        refusal(() -> client().setActivatedPartitions(List.of(8, 8))));
  }

  @Test
  void setActivatedPartitions_whenRunning_refusedWithNotSupported() {
    assertEquals(FmReturnCode.NOT_SUPPORTED,
        refusal(() -> client().setActivatedPartitions(List.of(8))));
  }

  @Test
  void listPartitions_afterRestartDeadline_refusedWithConnectionNotValid() {
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
    FabricManager fm = client();
    fabric.expireRestartDeadline();
    assertEquals(FmReturnCode.CONNECTION_NOT_VALID, refusal(fm::listPartitions));
  }

  @Test
  void listPartitions_notInSharedMode_refusedWithNotSupported() {
    fabric.setFabricMode(0);
    assertEquals(FmReturnCode.NOT_SUPPORTED, refusal(() -> client().listPartitions()));
  }

  @Test
  void connect_stoppedFabricManager_refusedWithConnectionNotValid() {
    fabric.stop();
    assertEquals(FmReturnCode.CONNECTION_NOT_VALID, refusalOfFreshClient());
  }

  @Test
  void listPartitions_afterFabricManagerStopped_refusedWithConnectionNotValid() {
    FabricManager fm = client();
    fabric.stop();
    assertEquals(FmReturnCode.CONNECTION_NOT_VALID, refusal(fm::listPartitions));
  }

  @Test
  void listPartitions_afterPlainRestart_noPartitionActive() {
    client().activate(1);
    fabric.stop();
    fabric.start();
    assertEquals(Set.of(), activeIds(client()));
  }

  // ---- faults -----------------------------------------------------------------------------------

  @Test
  void listPartitions_timeoutFault_refusedWithTimeout() {
    fabric.inject(FabricFault.fail(FabricOperation.LIST, FmReturnCode.TIMEOUT));
    assertEquals(FmReturnCode.TIMEOUT, refusal(() -> client().listPartitions()));
  }

  @Test
  void activate_hangFault_refusedWithTimeout() {
    fabric.inject(FabricFault.hang(FabricOperation.ACTIVATE));
    assertEquals(FmReturnCode.TIMEOUT, refusal(() -> client().activate(1)));
  }

  @Test
  void activate_nvlinkErrorFault_refusedWithNvlinkError() {
    fabric.inject(FabricFault.fail(FabricOperation.ACTIVATE, FmReturnCode.NVLINK_ERROR));
    assertEquals(FmReturnCode.NVLINK_ERROR, refusal(() -> client().activate(1)));
  }

  @Test
  void activate_nvlinkErrorFault_leavesPartitionInactive() {
    fabric.inject(FabricFault.fail(FabricOperation.ACTIVATE, FmReturnCode.NVLINK_ERROR));
    FabricManager fm = client();
    refusal(() -> fm.activate(1));
    assertEquals(Set.of(), activeIds(fm));
  }

  @Test
  void activate_afterFaultWoreOff_succeeds() {
    fabric.inject(FabricFault.fail(FabricOperation.ACTIVATE, FmReturnCode.GENERIC_ERROR).times(2));
    FabricManager fm = client();
    refusal(() -> fm.activate(1));
    refusal(() -> fm.activate(1));
    fm.activate(1);
    assertEquals(Set.of(1), activeIds(fm));
  }

  @Test
  void deactivate_alwaysFault_refusedEveryTime() {
    FabricManager fm = client();
    fm.activate(9);
    fabric.inject(FabricFault.fail(FabricOperation.DEACTIVATE, FmReturnCode.GENERIC_ERROR)
        .always());
    refusal(() -> fm.deactivate(9));
    assertEquals(FmReturnCode.GENERIC_ERROR, refusal(() -> fm.deactivate(9)));
  }

  @Test
  void connect_connectionRefusedFault_refusedWithConnectionNotValid() {
    fabric.inject(FabricFault.fail(FabricOperation.CONNECT, FmReturnCode.CONNECTION_NOT_VALID));
    assertEquals(FmReturnCode.CONNECTION_NOT_VALID, refusalOfFreshClient());
  }

  @Test
  void connect_afterOneConnectFault_succeeds() {
    fabric.inject(FabricFault.fail(FabricOperation.CONNECT, FmReturnCode.TIMEOUT));
    refusalOfFreshClient();
    assertEquals(15, client().listPartitions().size());
  }

  // ---- queries ----------------------------------------------------------------------------------

  @Test
  void unsupportedPartitionIds_healthyBoard_empty() {
    assertEquals(List.of(), client().unsupportedPartitionIds());
  }

  @Test
  void unsupportedPartitionIds_degradedGpu_listsThem() {
    fabric.markUnsupported(11, 3);
    assertEquals(List.of(3, 11), client().unsupportedPartitionIds());
  }

  @Test
  void unsupportedPartitionIds_whileStarting_refusedWithNotConfigured() {
    fabric.startSlowly();
    assertEquals(FmReturnCode.NOT_CONFIGURED, refusal(() -> client().unsupportedPartitionIds()));
  }

  @Test
  void nvlinkFailedDevices_healthyBoard_none() {
    assertTrue(client().nvlinkFailedDevices().isEmpty());
  }

  @Test
  void nvlinkFailedDevices_failedLinks_reportsThem() {
    NvlinkFailedDevices failed = new NvlinkFailedDevices(
        List.of(new NvlinkFailedDevice("GPU-6f1c", "00000000:17:00.0", List.of(3, 17))),
        List.of(new NvlinkFailedDevice("", "", List.of(0))));
    fabric.failNvlinks(failed);
    assertEquals(failed, client().nvlinkFailedDevices());
  }

  @Test
  void nvlinkFailedDevices_nvlinkErrorFault_refusedWithNvlinkError() {
    fabric.inject(FabricFault.fail(FabricOperation.NVLINK_FAILED, FmReturnCode.NVLINK_ERROR));
    assertEquals(FmReturnCode.NVLINK_ERROR, refusal(() -> client().nvlinkFailedDevices()));
  }

  // ---- sharing and closing ----------------------------------------------------------------------

  @Test
  void activate_byOneClient_seenByAnother() {
    client().activate(5);
    assertEquals(Set.of(5), activeIds(client()));
  }

  @Test
  void activate_survivesReopeningTheSimulation() {
    client().activate(3);
    fabric = SimulatedFabric.open(fabric.stateFile());
    assertEquals(Set.of(3), activeIds(client()));
  }

  @Test
  void close_twice_doesNotThrow() {
    FabricManager fm = client();
    fm.close();
    assertDoesNotThrow(fm::close);
  }

  @Test
  void listPartitions_afterClose_refusedWithConnectionNotValid() {
    FabricManager fm = client();
    fm.close();
    assertEquals(FmReturnCode.CONNECTION_NOT_VALID, refusal(fm::listPartitions));
  }

  // ---- seeded random sequences ------------------------------------------------------------------

  /**
   * Random activate/deactivate sequences against a plain model of the rules: every answer matches
   * the model and no two active partitions ever share a GPU. The seed is in every message.
   */
  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 5, 8, 13, 21, 34})
  void randomSequence_matchesModelAndNeverOverlaps(long seed) {
    Random random = new Random(seed);
    FabricManager fm = client();
    List<FabricPartition> table = FabricTable.hgxB200().partitions();
    TreeSet<Integer> model = new TreeSet<>();
    for (int step = 0; step < 40; step++) {
      FabricPartition p = table.get(random.nextInt(table.size()));
      boolean activate = random.nextBoolean();
      FmReturnCode expected;
      if (activate) {
        boolean overlaps = model.stream().anyMatch(a -> table.stream()
            .filter(t -> t.id() == a).findFirst().orElseThrow().overlaps(p));
        expected = model.contains(p.id()) ? FmReturnCode.PARTITION_ID_IN_USE
            : overlaps ? FmReturnCode.IN_USE : FmReturnCode.SUCCESS;
      } else {
        expected = model.contains(p.id()) ? FmReturnCode.SUCCESS
            : FmReturnCode.PARTITION_ID_NOT_IN_USE;
      }
      FmReturnCode actual;
      try {
        if (activate) {
          fm.activate(p.id());
        } else {
          fm.deactivate(p.id());
        }
        actual = FmReturnCode.SUCCESS;
      } catch (FabricManagerException e) {
        actual = e.returnCode();
      }
      String where = "seed " + seed + " step " + step + ": " + (activate ? "activate " : "deactivate ")
          + p.id();
      assertEquals(expected, actual, where);
      if (actual == FmReturnCode.SUCCESS) {
        if (activate) {
          model.add(p.id());
        } else {
          model.remove(p.id());
        }
      }
      List<FabricPartition> active = fm.listPartitions().stream()
          .filter(FabricPartition::active).toList();
      assertEquals(model, new TreeSet<>(active.stream().map(FabricPartition::id).toList()), where);
      for (FabricPartition a : active) {
        for (FabricPartition b : active) {
          assertTrue(a.id() == b.id() || !a.overlaps(b), where + ": " + a.id() + " overlaps "
              + b.id());
        }
      }
    }
  }

  // ---- vGPU mode (FABRIC_MODE=2): partitions activated with VF lists -------------------------

  private static final List<io.gpuvirt.core.pci.PciAddress> TWO_VFS = List.of(
      io.gpuvirt.core.pci.PciAddress.parse("0000:3d:00.5"),
      io.gpuvirt.core.pci.PciAddress.parse("0000:17:00.4"));

  @Test
  void activateWithVirtualFunctions_vgpuMode_activatesWithTheVfsInTheirOrder() {
    fabric.setFabricMode(2);
    FabricManager fm = client();
    if (!passesVirtualFunctions()) {
      assertEquals(FmReturnCode.NOT_SUPPORTED,
          refusal(() -> fm.activateWithVirtualFunctions(4, TWO_VFS)));
      assertEquals(List.of(), fabric.activePartitionIds());
      return;
    }
    fm.activateWithVirtualFunctions(4, TWO_VFS);
    assertEquals(Set.of(4), activeIds(fm));
    assertEquals(TWO_VFS, fabric.activeVirtualFunctions(4));
  }

  @Test
  void activate_vgpuModeWithoutVfs_refusedWithNotSupported() {
    fabric.setFabricMode(2);
    assertEquals(FmReturnCode.NOT_SUPPORTED, refusal(() -> client().activate(8)));
    assertEquals(List.of(), fabric.activePartitionIds());
  }

  @Test
  void activateWithVirtualFunctions_sharedMode_refusedWithNotSupported() {
    assertEquals(FmReturnCode.NOT_SUPPORTED,
        refusal(() -> client().activateWithVirtualFunctions(4, TWO_VFS)));
    assertEquals(List.of(), fabric.activePartitionIds());
  }

  @Test
  void activateWithVirtualFunctions_notOneVfPerGpu_refusedWithBadParam() {
    if (!passesVirtualFunctions()) {
      return;
    }
    fabric.setFabricMode(2);
    FabricManager fm = client();
    assertEquals(FmReturnCode.BADPARAM,
        refusal(() -> fm.activateWithVirtualFunctions(4, TWO_VFS.subList(0, 1))));
    assertEquals(FmReturnCode.BADPARAM, refusal(() -> fm.activateWithVirtualFunctions(4,
        List.of(TWO_VFS.get(0), TWO_VFS.get(0)))));
    assertEquals(FmReturnCode.BADPARAM, refusal(() -> fm.activateWithVirtualFunctions(4,
        List.of())));
    assertEquals(List.of(), fabric.activePartitionIds());
  }

  @Test
  void activateWithVirtualFunctions_overlappingActivePartition_refusedWithInUse() {
    if (!passesVirtualFunctions()) {
      return;
    }
    fabric.setFabricMode(2);
    FabricManager fm = client();
    fm.activateWithVirtualFunctions(8, TWO_VFS.subList(0, 1));
    assertEquals(FmReturnCode.IN_USE, refusal(() -> fm.activateWithVirtualFunctions(4, TWO_VFS)));
    assertEquals(List.of(8), fabric.activePartitionIds());
  }

  @Test
  void deactivate_vgpuMode_forgetsTheVfs() {
    if (!passesVirtualFunctions()) {
      return;
    }
    fabric.setFabricMode(2);
    FabricManager fm = client();
    fm.activateWithVirtualFunctions(4, TWO_VFS);
    fm.deactivate(4);
    assertEquals(List.of(), fabric.activePartitionIds());
    assertEquals(List.of(), fabric.activeVirtualFunctions(4));
  }
}
