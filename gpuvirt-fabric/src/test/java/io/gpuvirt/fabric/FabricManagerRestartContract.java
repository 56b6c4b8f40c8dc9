package io.gpuvirt.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.RestartAwareFabricManager;
import io.gpuvirt.testkit.fabric.FabricPhase;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Fabric Manager restarted in resiliency mode ({@code --restart}), for every {@link FabricManager}
 * implementation against one simulated Fabric Manager: what the raw client sees, and what
 * {@link RestartAwareFabricManager} makes of it with the partitions gpuvirt's leases hold. The
 * sibling of {@link FabricManagerContract}; the subclasses connect the same three clients.
 */
abstract class FabricManagerRestartContract {
  @TempDir Path dir;
  SimulatedFabric fabric;
  private final List<FabricManager> opened = new ArrayList<>();
  /** The partitions gpuvirt's leases hold in a test; the decorator's supplier reads it. */
  private List<Integer> leased = List.of(4, 7);
  private final AtomicInteger leaseReads = new AtomicInteger();

  /** Connects the client under test to {@code fabric}. */
  abstract FabricManager connect(SimulatedFabric fabric);

  @BeforeEach
  void createFabric() {
    fabric = SimulatedFabric.hgxB200(dir.resolve("fm").resolve("fabricmanager.json"));
  }

  @AfterEach
  void closeClients() {
    opened.forEach(FabricManager::close);
  }

  private FabricManager client() {
    FabricManager fm = connect(fabric);
    opened.add(fm);
    return fm;
  }

  private RestartAwareFabricManager restartAware() {
    RestartAwareFabricManager fm = RestartAwareFabricManager.wrap(connect(fabric), () -> {
      leaseReads.incrementAndGet();
      return leased;
    });
    opened.add(fm);
    return fm;
  }

  /** Activates {@code ids}, then restarts Fabric Manager in resiliency mode. */
  private void restartWithActive(Integer... ids) {
    FabricManager fm = client();
    for (int id : ids) {
      fm.activate(id);
    }
    fabric.restartInResiliencyMode(Duration.ofMinutes(1));
  }

  private static Set<Integer> activeIds(FabricManager fm) {
    TreeSet<Integer> ids = new TreeSet<>();
    fm.listPartitions().stream().filter(FabricPartition::active).forEach(p -> ids.add(p.id()));
    return ids;
  }

  private static FabricManagerException refusal(org.junit.jupiter.api.function.Executable call) {
    return assertThrows(FabricManagerException.class, call);
  }

  private static Consumer<FabricManager> operation(String name) {
    return switch (name) {
      case "list" -> FabricManager::listPartitions;
      case "activate" -> fm -> fm.activate(5);
      case "deactivate" -> fm -> fm.deactivate(4);
      case "unsupported" -> FabricManager::unsupportedPartitionIds;
      default -> FabricManager::nvlinkFailedDevices;
    };
  }

  // ---- the raw client ---------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"list", "activate", "deactivate", "unsupported", "nvlinkFailed"})
  void rawCall_restartedWithPartitionsActive_refusedWithNotConfigured(String name) {
    restartWithActive(4, 7);
    FabricManager fm = client();
    assertEquals(FmReturnCode.NOT_CONFIGURED, refusal(() -> operation(name).accept(fm))
        .returnCode());
  }

  @Test
  void rawActivate_restartedBeforeTheList_changesNothing() {
    restartWithActive(4, 7);
    refusal(() -> client().activate(5));
    client().setActivatedPartitions(List.of(4, 7));
    assertEquals(Set.of(4, 7), activeIds(client()));
  }

  @Test
  void rawNvlinkFailedDevices_restartModeAfterTheList_refusedWithNotSupported() {
    restartWithActive(4);
    FabricManager fm = client();
    fm.setActivatedPartitions(List.of(4));
    assertEquals(FmReturnCode.NOT_SUPPORTED, refusal(fm::nvlinkFailedDevices).returnCode());
  }

  @Test
  void rawNvlinkFailedDevices_afterPlainStart_answers() {
    restartWithActive(4);
    fabric.stop();
    fabric.start();
    assertTrue(client().nvlinkFailedDevices().isEmpty());
  }

  @Test
  void rawSetActivatedPartitions_whileStarting_refusedWithNotConfigured() {
    fabric.startSlowly();
    assertEquals(FmReturnCode.NOT_CONFIGURED,
        refusal(() -> client().setActivatedPartitions(List.of(4))).returnCode());
  }

  // ---- through RestartAwareFabricManager --------------------------------------------------------

  @Test
  void firstCall_afterRestart_sendsExactlyTheLeasedPartitions() {
    restartWithActive(4, 5, 7);
    restartAware().unsupportedPartitionIds();
    assertEquals(List.of(4, 7), fabric.activePartitionIds());
  }

  @Test
  void firstCall_afterRestart_readsTheLeasesOnce() {
    restartWithActive(4, 7);
    FabricManager fm = restartAware();
    fm.listPartitions();
    fm.listPartitions();
    assertEquals(1, leaseReads.get());
  }

  @Test
  void listPartitions_afterRestart_activeSetEqualsTheLeasedOne() {
    restartWithActive(4, 5, 7);
    assertEquals(Set.of(4, 7), activeIds(restartAware()));
  }

  @Test
  void activate_asFirstCallAfterRestart_activatesBesideTheLeased() {
    restartWithActive(4, 7);
    FabricManager fm = restartAware();
    fm.activate(5);
    assertEquals(Set.of(4, 5, 7), activeIds(fm));
  }

  @Test
  void deactivate_asFirstCallAfterRestart_deactivatesALeasedPartition() {
    restartWithActive(4, 7);
    FabricManager fm = restartAware();
    fm.deactivate(4);
    assertEquals(Set.of(7), activeIds(fm));
  }

  @Test
  void activateOverlapping_afterResync_refusedWithInUse() {
    restartWithActive(4, 7);
    FabricManager fm = restartAware();
    assertEquals(FmReturnCode.IN_USE, refusal(() -> fm.activate(2)).returnCode());
  }

  @Test
  void listPartitions_afterRestartWithoutLeases_sendsAnEmptyList() {
    leased = List.of();
    restartWithActive(1);
    assertEquals(Set.of(), activeIds(restartAware()));
    assertEquals(FabricPhase.RUNNING, fabric.phase());
  }

  @Test
  void nvlinkFailedDevices_afterRestart_sendsListThenRefusedWithNotSupported() {
    restartWithActive(4, 7);
    assertEquals(FmReturnCode.NOT_SUPPORTED,
        refusal(() -> restartAware().nvlinkFailedDevices()).returnCode());
    assertEquals(List.of(4, 7), fabric.activePartitionIds());
  }

  @Test
  void resyncIfRestarted_afterRestart_returnsTrueAndSendsTheLeases() {
    restartWithActive(4, 5, 7);
    assertTrue(restartAware().resyncIfRestarted());
    assertEquals(List.of(4, 7), fabric.activePartitionIds());
  }

  @Test
  void resyncIfRestarted_running_returnsFalseAndChangesNothing() {
    client().activate(5);
    assertFalse(restartAware().resyncIfRestarted());
    assertEquals(List.of(5), fabric.activePartitionIds());
  }

  @Test
  void listPartitions_whileStartingSlowly_refusedSayingStillStarting() {
    fabric.startSlowly();
    FabricManagerException e = refusal(() -> restartAware().listPartitions());
    assertTrue(e.returnCode() == FmReturnCode.NOT_CONFIGURED
        && e.getMessage().contains("still starting") && e.getMessage().contains("retry"),
        e.getMessage());
  }

  @Test
  void listPartitions_afterSlowStartFinished_leasedPartitionsNotMadeActive() {
    fabric.startSlowly();
    FabricManager fm = restartAware();
    refusal(fm::listPartitions);
    fabric.finishStarting();
    assertEquals(Set.of(), activeIds(fm));
  }

  @Test
  void listPartitions_afterRestartDeadline_refusedNamingTheRestart() {
    restartWithActive(4, 7);
    FabricManager fm = restartAware();
    fabric.expireRestartDeadline();
    FabricManagerException e = refusal(fm::listPartitions);
    assertTrue(e.returnCode() == FmReturnCode.CONNECTION_NOT_VALID
        && e.getMessage().contains("deadline")
        && e.getMessage().contains("restart nvidia-fabricmanager"), e.getMessage());
  }

  @Test
  void listPartitions_leasedPartitionsOverlap_refusedNamingThem() {
    leased = List.of(2, 4);
    restartWithActive(4);
    FabricManagerException e = refusal(() -> restartAware().listPartitions());
    assertTrue(e.returnCode() == FmReturnCode.BADPARAM && e.getMessage().contains("[2, 4]"),
        e.getMessage());
  }

  @Test
  void listPartitions_leasedPartitionsRefused_fabricManagerStillWaits() {
    leased = List.of(2, 4);
    restartWithActive(4);
    refusal(() -> restartAware().listPartitions());
    assertEquals(FabricPhase.AWAITING_ACTIVATED_LIST, fabric.phase());
  }
}
