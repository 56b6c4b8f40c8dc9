package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.Invariants;
import io.gpuvirt.core.alloc.Lease;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several JVMs allocating and releasing on one state directory at the same time (invariant 5). */
final class MultiProcessLedgerTest {
  private static final int WORKERS = 4;

  @TempDir
  Path dir;

  private List<List<String>> runWorkers(String... modeArgs) throws Exception {
    Path state = dir.resolve("state");
    List<Process> processes = new ArrayList<>();
    for (int w = 0; w < WORKERS; w++) {
      List<String> args = new ArrayList<>(List.of(modeArgs[0], state.toString(), "" + w, "" + w));
      args.addAll(List.of(modeArgs).subList(1, modeArgs.length));
      processes.add(ChildJvm.start(dir.resolve("worker-" + w + ".log"), args.toArray(String[]::new)));
    }
    List<List<String>> logs = new ArrayList<>();
    for (int w = 0; w < WORKERS; w++) {
      Process p = processes.get(w);
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "worker " + w + " did not finish");
      List<String> lines = Files.readAllLines(dir.resolve("worker-" + w + ".log"));
      assertEquals(0, p.exitValue(), "worker " + w + " failed: " + lines);
      logs.add(lines);
    }
    return logs;
  }

  @Test
  void grabUntilFull_noGroupIsGrantedTwiceAndAllAreGranted() throws Exception {
    List<String> granted = new ArrayList<>();
    for (List<String> log : runWorkers("grab")) {
      for (String line : log) {
        granted.addAll(List.of(line.split(" ")[2].split(",")));
      }
    }

    assertEquals(List.of(LedgerWorker.GPUS, LedgerWorker.GPUS),
        List.of(granted.size(), (int) granted.stream().distinct().count()), granted.toString());
  }

  @Test
  void grabUntilFull_ledgerHoldsExactlyTheGrants() throws Exception {
    Map<String, String> granted = new TreeMap<>();
    for (List<String> log : runWorkers("grab")) {
      log.forEach(line -> granted.put(line.split(" ")[1], line.split(" ")[2]));
    }
    Map<String, String> inLedger = new TreeMap<>();
    for (Lease l : LeaseLedger.open(dir.resolve("state")).leases()) {
      inLedger.put(l.owner(), String.join(",", l.groupNumbers().stream().map(String::valueOf)
          .toList()));
    }

    assertEquals(granted, inLedger);
  }

  @Test
  void churn_finalLedgerMatchesEachWorkersLastWord() throws Exception {
    Map<String, String> expected = new TreeMap<>();
    for (List<String> log : runWorkers("churn", "150")) {
      for (String line : log) {
        String[] f = line.split(" ");
        if (f[0].equals("GRANT")) {
          expected.put(f[1], f[2]);
        } else {
          expected.remove(f[1]);
        }
      }
    }
    List<Lease> leases = LeaseLedger.open(dir.resolve("state")).leases();
    Map<String, String> inLedger = new TreeMap<>();
    leases.forEach(l -> inLedger.put(l.owner(), String.join(",", l.groupNumbers().stream()
        .map(String::valueOf).toList())));

    assertEquals(expected, inLedger);
    assertNull(Invariants.disjoint(leases));
  }
}
