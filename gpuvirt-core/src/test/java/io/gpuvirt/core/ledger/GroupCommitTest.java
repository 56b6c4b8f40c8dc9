package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.TestHosts;
import io.gpuvirt.core.pci.Topology;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Threads of one JVM committing to one state directory at the same time are committed together
 * (one locked load, one append, one fsync): each still sees the leases the one before it left,
 * returns only once its record is on disk, and a change that fails commits nothing of its own
 * while the others in its batch commit.
 */
final class GroupCommitTest {
  private final Topology host = TestHosts.hgxB200();

  @TempDir Path dir;

  private LeaseLedger ledger() {
    return LeaseLedger.open(dir);
  }

  private static AllocationRequest one(String owner) {
    return AllocationRequest.builder(owner).count(1).build();
  }

  /**
   * Runs {@code first} as a transaction that, while it holds the lock, starts {@code others}
   * (each a transaction of its own on another thread) and gives them time to queue behind it.
   */
  private Map<String, Object> batch(LeaseStore store, String firstOwner,
      Map<String, java.util.function.Function<TreeMap<String, Lease>, Object>> others)
      throws InterruptedException {
    Map<String, Object> outcomes = new ConcurrentHashMap<>();
    List<Thread> threads = new ArrayList<>();
    store.transact(leases -> {
      others.forEach((name, change) -> {
        Thread t = new Thread(() -> {
          try {
            outcomes.put(name, store.transact(change));
          } catch (RuntimeException e) {
            outcomes.put(name, e);
          }
        }, name);
        threads.add(t);
        t.start();
      });
      sleep(300);
      leases.put(firstOwner, grant(firstOwner, leases));
      return null;
    });
    for (Thread t : threads) {
      t.join(30_000);
    }
    return outcomes;
  }

  /** A lease for {@code owner} on groups none of {@code leases} holds (chosen by the allocator). */
  private Lease grant(String owner, TreeMap<String, Lease> leases) {
    return Allocator.allocate(one(owner), host, leases.values(), java.time.Instant.EPOCH);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void concurrentAllocations_eachOnDiskWhenItReturns_noGroupTwice() throws Exception {
    int threads = 8;
    List<Thread> workers = new ArrayList<>();
    Map<String, Lease> granted = new ConcurrentHashMap<>();
    Map<String, Boolean> seenOnReturn = new ConcurrentHashMap<>();
    List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    LeaseLedger shared = ledger();
    for (int t = 0; t < threads; t++) {
      String owner = "vm-" + t;
      workers.add(new Thread(() -> {
        try {
          for (int round = 0; round < 10; round++) {
            Lease lease = shared.allocate(one(owner), host);
            granted.put(owner, lease);
            // what a fresh reader (another process, say) finds the moment the call returned
            seenOnReturn.merge(owner, LeaseLedger.open(dir).lease(owner).equals(
                java.util.Optional.of(lease)), Boolean::logicalAnd);
            shared.release(owner);
          }
          granted.put(owner, shared.allocate(one(owner), host));
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    workers.forEach(Thread::start);
    for (Thread w : workers) {
      w.join(60_000);
    }

    List<Lease> onDisk = ledger().leases();
    Set<Integer> groups = new HashSet<>();
    onDisk.forEach(l -> groups.addAll(l.groupNumbers()));
    assertEquals(List.of(), failures);
    assertEquals(List.of(true), List.copyOf(new HashSet<>(seenOnReturn.values())),
        seenOnReturn.toString());
    assertEquals(List.copyOf(new TreeMap<>(granted).values()), onDisk);
    assertEquals(threads, groups.size(), onDisk.toString());
  }

  @Test
  void transactionsQueuedBehindALeader_eachSeeTheOneBefore_andAllCommit() throws Exception {
    LeaseStore store = LeaseStore.jsonFile(dir);
    store.transact(leases -> leases.size()); // nothing to commit: creates nothing
    Map<String, java.util.function.Function<TreeMap<String, Lease>, Object>> others =
        new TreeMap<>();
    for (int i = 1; i <= 4; i++) {
      String owner = "vm-" + i;
      others.put(owner, leases -> {
        List<String> before = List.copyOf(leases.keySet());
        leases.put(owner, grant(owner, leases));
        return before;
      });
    }

    Map<String, Object> outcomes = batch(store, "vm-0", others);

    for (int i = 1; i <= 4; i++) {
      Object before = outcomes.get("vm-" + i);
      assertTrue(before instanceof List<?> l && l.contains("vm-0"), String.valueOf(before));
    }
    assertTrue(store.read().keySet().containsAll(List.of("vm-0", "vm-1", "vm-2", "vm-3",
        "vm-4")), store.read().keySet().toString());
  }

  @Test
  void aFailingChangeInABatch_commitsNothingOfItsOwn_theOthersCommit() throws Exception {
    LeaseStore store = LeaseStore.jsonFile(dir);
    Map<String, java.util.function.Function<TreeMap<String, Lease>, Object>> others =
        new TreeMap<>();
    others.put("a-good", leases -> {
      leases.put("vm-good", grant("vm-good", leases));
      return "ok";
    });
    others.put("b-bad", leases -> {
      leases.remove("vm-0"); // would drop the leader's lease, then fails
      throw new InvalidValueException("refused on purpose");
    });

    Map<String, Object> outcomes = batch(store, "vm-0", others);

    assertEquals("ok", outcomes.get("a-good"));
    assertTrue(outcomes.get("b-bad") instanceof InvalidValueException,
        String.valueOf(outcomes.get("b-bad")));
    assertTrue(store.read().keySet().containsAll(List.of("vm-0", "vm-good")),
        store.read().keySet().toString());
  }

  @Test
  void aTransactionInsideAnother_onTheSameDirectory_isRefusedNotDeadlocked() {
    LeaseLedger ledger = ledger();
    ledger.allocate(one("vm-1"), host);

    LedgerException e = assertThrows(LedgerException.class,
        () -> ledger.update("vm-1", lease -> {
          ledger.release("vm-1");
          return lease;
        }));

    assertTrue(e.getMessage().contains("not reentrant"), e.getMessage());
    assertEquals(List.of("vm-1"), ledger.leases().stream().map(Lease::owner).toList());
  }

  @Test
  void batchedRecords_areOneLineEach_inSequence() throws Exception {
    LeaseStore store = LeaseStore.jsonFile(dir);
    ledger().allocate(one("vm-base"), host); // the snapshot; the batch appends to a journal
    ledger().allocate(one("vm-journal"), host);
    Map<String, java.util.function.Function<TreeMap<String, Lease>, Object>> others =
        new TreeMap<>();
    for (int i = 1; i <= 3; i++) {
      String owner = "vm-" + i;
      others.put(owner, leases -> {
        leases.put(owner, grant(owner, leases));
        return owner;
      });
    }

    batch(store, "vm-0", others);

    List<String> lines = Files.readAllLines(dir.resolve("leases.journal"),
        StandardCharsets.UTF_8);
    List<String> seqs = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      seqs.add(line.replaceAll(".*\"seq\":([0-9]+).*", "$1"));
    }
    assertEquals(List.of("1", "2", "3", "4", "5"), seqs, lines.toString());
    assertEquals(LeaseLedger.open(dir).leases(), List.copyOf(store.read().values()));
  }

}
