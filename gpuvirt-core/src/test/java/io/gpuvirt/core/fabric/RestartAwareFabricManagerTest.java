package io.gpuvirt.core.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.B200FabricManager;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The decorator against the in-test B200 Fabric Manager given a resiliency-mode life cycle. */
final class RestartAwareFabricManagerTest {

  /**
   * The B200 fake with the life of a real Fabric Manager: running, still starting, restarted in
   * resiliency mode (waits for set-activated, refusing all else with NOT_CONFIGURED), exited.
   */
  private static class RestartingFm implements FabricManager {
    enum Phase { RUNNING, STARTING, AWAITING_LIST, EXITED }

    final B200FabricManager board = new B200FabricManager();
    final List<List<Integer>> listsReceived = new ArrayList<>();
    Phase phase = Phase.RUNNING;
    boolean deadlinePassesOnList;
    Runnable beforeList = () -> {};
    boolean closed;

    void restart(Integer... activeBefore) {
      board.setActivatedPartitions(List.of(activeBefore));
      phase = Phase.AWAITING_LIST;
    }

    private void gate(String op) {
      if (phase == Phase.EXITED) {
        throw new FabricManagerException(op, FmReturnCode.CONNECTION_NOT_VALID, "not running");
      }
      if (phase != Phase.RUNNING) {
        throw new FabricManagerException(op, FmReturnCode.NOT_CONFIGURED, "not configured");
      }
    }

    @Override
    public List<FabricPartition> listPartitions() {
      gate("list partitions");
      return board.listPartitions();
    }

    @Override
    public void activate(int id) {
      gate("activate partition " + id);
      board.activate(id);
    }

    @Override
    public void deactivate(int id) {
      gate("deactivate partition " + id);
      board.deactivate(id);
    }

    @Override
    public void setActivatedPartitions(Collection<Integer> ids) {
      beforeList.run();
      String op = "set activated partitions " + ids;
      listsReceived.add(List.copyOf(ids));
      if (phase == Phase.AWAITING_LIST && deadlinePassesOnList) {
        phase = Phase.EXITED;
      }
      switch (phase) {
        case EXITED -> throw new FabricManagerException(op, FmReturnCode.CONNECTION_NOT_VALID,
            "not running");
        case STARTING -> throw new FabricManagerException(op, FmReturnCode.NOT_CONFIGURED,
            "starting");
        case RUNNING -> throw new FabricManagerException(op, FmReturnCode.NOT_SUPPORTED,
            "not in restart mode");
        default -> {
          if (ids.contains(0)) {
            throw new FabricManagerException(op, FmReturnCode.BADPARAM, "no partition 0");
          }
          board.setActivatedPartitions(ids);
          phase = Phase.RUNNING;
        }
      }
    }

    @Override
    public List<Integer> unsupportedPartitionIds() {
      gate("list unsupported partitions");
      return board.unsupportedPartitionIds();
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  private final RestartingFm fake = new RestartingFm();
  private List<Integer> leases = List.of(4, 7);
  private final AtomicInteger leaseReads = new AtomicInteger();
  private final RestartAwareFabricManager fm = RestartAwareFabricManager.wrap(fake, () -> {
    leaseReads.incrementAndGet();
    return leases;
  });

  private static List<Integer> activeIds(FabricManager fm) {
    return fm.listPartitions().stream().filter(FabricPartition::active).map(FabricPartition::id)
        .toList();
  }

  // ---- after a restart in resiliency mode ------------------------------------------------------

  @Test
  void listPartitions_afterRestart_sendsTheLeasedPartitionsFirst() {
    fake.restart(4, 5, 7);
    fm.listPartitions();
    assertEquals(List.of(List.of(4, 7)), fake.listsReceived);
  }

  @Test
  void listPartitions_afterRestart_listsTheLeasedPartitionsActive() {
    fake.restart(4, 5, 7);
    assertEquals(List.of(4, 7), activeIds(fm));
  }

  @Test
  void activate_afterRestart_sendsListThenActivates() {
    fake.restart(4, 7);
    fm.activate(5);
    assertEquals(List.of(List.of(4, 7)), fake.listsReceived);
    assertEquals(List.of(4, 5, 7), activeIds(fake));
  }

  @Test
  void deactivate_afterRestart_sendsListThenDeactivates() {
    fake.restart(4, 7);
    fm.deactivate(7);
    assertEquals(List.of(4), activeIds(fake));
  }

  @Test
  void unsupportedPartitionIds_afterRestart_sendsListThenAnswers() {
    fake.restart();
    fake.board.unsupported(9);
    assertEquals(List.of(9), fm.unsupportedPartitionIds());
    assertEquals(1, fake.listsReceived.size());
  }

  @Test
  void ensureActive_afterRestart_sendsListOnce() {
    fake.restart(4, 7);
    assertFalse(fm.ensureActive(4));
    assertEquals(1, fake.listsReceived.size());
  }

  @Test
  void listPartitions_afterRestartWithoutLeases_sendsAnEmptyList() {
    leases = List.of();
    fake.restart(1);
    assertEquals(List.of(), activeIds(fm));
    assertEquals(List.of(List.of()), fake.listsReceived);
  }

  @Test
  void listPartitions_supplierListsAnIdTwice_sendsItOnce() {
    leases = List.of(7, 4, 7);
    fake.restart();
    fm.listPartitions();
    assertEquals(List.of(List.of(4, 7)), fake.listsReceived);
  }

  @Test
  void listPartitions_secondCallAfterResync_sendsNothingMore() {
    fake.restart(4, 7);
    fm.listPartitions();
    fm.listPartitions();
    assertEquals(1, leaseReads.get());
  }

  @Test
  void listPartitions_running_neitherReadsLeasesNorSendsAList() {
    fm.listPartitions();
    assertEquals(0, leaseReads.get() + fake.listsReceived.size());
  }

  @Test
  void listPartitions_anotherClientSentTheListFirst_succeeds() {
    fake.restart(4, 7);
    fake.beforeList = () -> {
      if (fake.phase == RestartingFm.Phase.AWAITING_LIST) {
        fake.board.setActivatedPartitions(List.of(4, 7));
        fake.phase = RestartingFm.Phase.RUNNING;
      }
    };
    assertEquals(List.of(4, 7), activeIds(fm));
  }

  @Test
  void listPartitions_leasedListRefused_namesTheListAndTheFix() {
    leases = List.of(0);
    fake.restart();
    FabricManagerException e = assertThrows(FabricManagerException.class, fm::listPartitions);
    assertEquals(FmReturnCode.BADPARAM, e.returnCode());
    assertTrue(e.getMessage().contains("[0]") && e.getMessage().contains("gpuvirt leases"),
        e.getMessage());
  }

  // ---- a Fabric Manager that is merely starting -------------------------------------------------

  @Test
  void listPartitions_whileStarting_refusedWithNotConfigured() {
    fake.phase = RestartingFm.Phase.STARTING;
    FabricManagerException e = assertThrows(FabricManagerException.class, fm::listPartitions);
    assertEquals(FmReturnCode.NOT_CONFIGURED, e.returnCode());
  }

  @Test
  void listPartitions_whileStarting_saysStillStartingRetry() {
    fake.phase = RestartingFm.Phase.STARTING;
    FabricManagerException e = assertThrows(FabricManagerException.class, fm::listPartitions);
    assertTrue(e.getMessage().contains("still starting") && e.getMessage().contains("retry"),
        e.getMessage());
  }

  @Test
  void activate_whileStarting_activatesNothing() {
    fake.phase = RestartingFm.Phase.STARTING;
    assertThrows(FabricManagerException.class, () -> fm.activate(4));
    fake.phase = RestartingFm.Phase.RUNNING;
    assertEquals(List.of(), activeIds(fake));
  }

  @Test
  void listPartitions_refusedButNotAwaitingTheList_saysStillStarting() {
    // refuses the call with NOT_CONFIGURED, yet answers set-activated with NOT_SUPPORTED
    RestartingFm initialising = new RestartingFm() {
      @Override
      public List<FabricPartition> listPartitions() {
        throw new FabricManagerException("list partitions", FmReturnCode.NOT_CONFIGURED, "init");
      }
    };
    FabricManager refusing = RestartAwareFabricManager.wrap(initialising, () -> leases);
    FabricManagerException e = assertThrows(FabricManagerException.class,
        refusing::listPartitions);
    assertTrue(e.returnCode() == FmReturnCode.NOT_CONFIGURED
        && e.getMessage().contains("still starting"), e.getMessage());
  }

  // ---- the deadline -----------------------------------------------------------------------------

  @Test
  void listPartitions_afterDeadline_namesTheRestartFix() {
    fake.phase = RestartingFm.Phase.EXITED;
    FabricManagerException e = assertThrows(FabricManagerException.class, fm::listPartitions);
    assertTrue(e.returnCode() == FmReturnCode.CONNECTION_NOT_VALID
        && e.getMessage().contains("restart nvidia-fabricmanager"), e.getMessage());
  }

  @Test
  void listPartitions_deadlinePassesAsTheListIsSent_saysItExited() {
    fake.restart(4);
    fake.deadlinePassesOnList = true;
    FabricManagerException e = assertThrows(FabricManagerException.class, fm::listPartitions);
    assertTrue(e.returnCode() == FmReturnCode.CONNECTION_NOT_VALID
        && e.getMessage().contains("has exited") && e.getMessage().contains("deadline")
        && e.getMessage().contains("restart nvidia-fabricmanager"), e.getMessage());
  }

  // ---- resyncIfRestarted ------------------------------------------------------------------------

  @Test
  void resyncIfRestarted_afterRestart_returnsTrue() {
    fake.restart(4, 7);
    assertTrue(fm.resyncIfRestarted());
  }

  @Test
  void resyncIfRestarted_afterRestart_sendsTheLeasedPartitions() {
    fake.restart();
    fm.resyncIfRestarted();
    assertEquals(List.of(List.of(4, 7)), fake.listsReceived);
  }

  @Test
  void resyncIfRestarted_running_returnsFalseAndSendsNothing() {
    assertFalse(fm.resyncIfRestarted());
    assertEquals(List.of(), fake.listsReceived);
  }

  @Test
  void resyncIfRestarted_whileStarting_refusedWithNotConfigured() {
    fake.phase = RestartingFm.Phase.STARTING;
    assertEquals(FmReturnCode.NOT_CONFIGURED,
        assertThrows(FabricManagerException.class, fm::resyncIfRestarted).returnCode());
  }

  // ---- pass-through -----------------------------------------------------------------------------

  @Test
  void setActivatedPartitions_passesTheListAsGiven() {
    fake.restart();
    fm.setActivatedPartitions(List.of(2, 3));
    assertEquals(List.of(List.of(2, 3)), fake.listsReceived);
  }

  @Test
  void activate_otherRefusal_passesUnchanged() {
    fm.activate(4);
    assertEquals(FmReturnCode.IN_USE,
        assertThrows(FabricManagerException.class, () -> fm.activate(2)).returnCode());
  }

  @Test
  void close_closesTheDelegate() {
    fm.close();
    assertTrue(fake.closed);
  }
}
