package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedSet;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process SIGKILLed (Process.destroyForcibly) while it commits leases in a tight loop leaves the
 * ledger as it was after its last commit or the one in flight, never torn; and the next process
 * carries on.
 */
final class CrashTest {
  private static final int ROUNDS = 12;

  @TempDir
  Path dir;

  @Test
  void killMidCommit_leavesTheOldOrTheNewLedger() throws Exception {
    SplittableRandom rnd = new SplittableRandom(20260105);
    for (int round = 0; round < ROUNDS; round++) {
      Path state = dir.resolve("round-" + round);
      Path log = dir.resolve("round-" + round + ".log");
      Process child = ChildJvm.start(log, "crash", state.toString());
      int waitFor = 5 + rnd.nextInt(40);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (lastDone(log) < waitFor && child.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(2);
      }
      Thread.sleep(rnd.nextInt(5));
      child.destroyForcibly();
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child did not die");
      int done = lastDone(log);
      assertTrue(done >= 0, "round " + round + ": child never committed: "
          + Files.readAllLines(log));

      SortedSet<String> owners = LeaseLedger.open(state).leases().stream().map(Lease::owner)
          .collect(Collectors.toCollection(TreeSet::new));

      assertTrue(owners.equals(LedgerWorker.ownersAfter(done))
          || owners.equals(LedgerWorker.ownersAfter(done + 1)),
          "round " + round + ": after DONE " + done + " the ledger holds " + owners);
    }
  }

  @Test
  void killMidCommit_nextProcessCarriesOn() throws Exception {
    Path state = dir.resolve("state");
    Path log = dir.resolve("crash.log");
    Process child = ChildJvm.start(log, "crash", state.toString());
    while (lastDone(log) < 10 && child.isAlive()) {
      Thread.sleep(2);
    }
    child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    LeaseLedger ledger = LeaseLedger.open(state);
    int before = ledger.leases().size();

    ledger.allocate(AllocationRequest.builder("after-crash").build(), LedgerWorker.host());

    assertEquals(before + 1, ledger.leases().size());
  }

  private static int lastDone(Path log) throws Exception {
    if (!Files.exists(log)) {
      return -1;
    }
    List<String> lines = Files.readAllLines(log);
    int last = -1;
    for (String line : lines) {
      if (line.startsWith("DONE ")) {
        last = Integer.parseInt(line.substring(5).trim());
      }
    }
    return last;
  }
}
