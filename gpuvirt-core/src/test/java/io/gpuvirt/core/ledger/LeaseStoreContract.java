package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.B200FabricManager;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.alloc.TestHosts;
import io.gpuvirt.core.pci.Topology;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * What every {@link LeaseStore} promises, run against each implementation: the JSON file
 * ({@link JsonFileLeaseStoreContractTest}) and PostgreSQL ({@link JdbcLeaseStoreContractTest}).
 * A subclass hands out stores; two stores from {@link #store()} in one test are two openings of
 * the same host's leases (as two processes would have).
 */
abstract class LeaseStoreContract {
  static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-05T10:00:00.123456Z"),
      ZoneOffset.UTC);
  final Topology host = TestHosts.hgxB200();

  /** A store of the test's host; every call opens the same host's leases afresh. */
  abstract LeaseStore store();

  private LeaseLedger maker;

  /**
   * A real lease, made by the ledger's rules on a throw-away JSON ledger (every field set); the
   * leases one test makes hold distinct GPUs.
   */
  private Lease lease(String owner, int gpus) {
    if (maker == null) {
      maker = LeaseLedger.open(java.nio.file.Path.of(scratch()), CLOCK);
    }
    return maker.allocate(AllocationRequest.builder(owner).count(gpus).build(), host,
            new PartitionContext(new B200FabricManager(), TestHosts.b200ModuleIds()));
  }

  private static String scratch() {
    try {
      java.nio.file.Path d = java.nio.file.Files.createTempDirectory("gpuvirt-contract");
      d.toFile().deleteOnExit();
      return d.toString();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void read_newStore_isEmpty() {
    assertEquals(Map.of(), store().read());
  }

  @Test
  void transact_addedLease_readsBackEqualFromAnotherOpening() {
    Lease lease = lease("vm-42", 4).withExpiresAt(CLOCK.instant().plusSeconds(60));

    store().transact(leases -> leases.put(lease.owner(), lease));

    assertEquals(Map.of("vm-42", lease), store().read());
  }

  @Test
  void transact_removedLease_isGoneForAnotherOpening() {
    LeaseStore store = store();
    store.transact(leases -> leases.put("vm-1", lease("vm-1", 1)));
    store.transact(leases -> leases.put("vm-2", lease("vm-2", 2).withOrigin(
        io.gpuvirt.core.alloc.LeaseOrigin.PROVISION)));

    store.transact(leases -> leases.remove("vm-1"));

    assertEquals(List.of("vm-2"), List.copyOf(store().read().keySet()));
  }

  @Test
  void transact_changedLease_replacesIt() {
    Lease lease = lease("vm-42", 2);
    store().transact(leases -> leases.put("vm-42", lease));

    store().transact(leases -> leases.put("vm-42", leases.get("vm-42")
        .withState(LeaseState.BOUND)));

    assertEquals(LeaseState.BOUND, store().read().get("vm-42").state());
  }

  @Test
  void transact_changeThatThrows_commitsNothing() {
    store().transact(leases -> leases.put("vm-1", lease("vm-1", 1)));
    Lease other = lease("vm-2", 1);

    assertThrows(IllegalStateException.class, () -> store().transact(leases -> {
      leases.remove("vm-1");
      leases.put("vm-2", other);
      throw new IllegalStateException("the change failed half way");
    }));

    assertEquals(List.of("vm-1"), List.copyOf(store().read().keySet()));
  }

  @Test
  void transact_twoLeasesHoldingOneGpu_isRefusedAndCommitsNothing() {
    Lease lease = lease("vm-1", 1);
    Lease sameGpus = maker.leases().get(0);
    maker.release("vm-1");
    Lease thief = lease("vm-2", 1);

    assertThrows(LedgerException.class, () -> store().transact(leases -> {
      leases.put("vm-1", lease);
      leases.put("vm-2", thief);
      return null;
    }));

    assertEquals(sameGpus.groupNumbers(), thief.groupNumbers());
    assertEquals(Map.of(), store().read());
  }

  /** A MIG lease as MigProvisioner records it: one GPU instance, its id set. */
  private static Lease migLease(String owner, String gpu, String placement) {
    return new Lease(owner, io.gpuvirt.core.alloc.LeaseOrigin.PROVISION, LeaseState.BOUND,
        AllocationRequest.builder(owner).count(1).selector(io.gpuvirt.core.alloc.DeviceSelector
            .parse(gpu)).build(), List.of(), java.util.OptionalInt.empty(),
        List.of("best fit"), CLOCK.instant(), java.util.Optional.empty(), List.of(),
        List.of(new io.gpuvirt.core.mig.MigAssignment(io.gpuvirt.core.pci.PciAddress.parse(gpu),
            "3g.90gb", 9, io.gpuvirt.core.mig.MigPlacement.parse(placement),
            java.util.OptionalInt.of(2))));
  }

  @Test
  void transact_migLease_readsBackEqual() {
    Lease lease = migLease("vm-9", "0000:17:00.0", "4:4");

    store().transact(leases -> leases.put("vm-9", lease));

    assertEquals(Map.of("vm-9", lease), store().read());
  }

  @Test
  void transact_twoLeasesHoldingOneMigInstance_isRefusedAndCommitsNothing() {
    assertThrows(LedgerException.class, () -> store().transact(leases -> {
      leases.put("vm-1", migLease("vm-1", "0000:17:00.0", "4:4"));
      leases.put("vm-2", migLease("vm-2", "0000:17:00.0", "4:4"));
      return null;
    }));

    assertEquals(Map.of(), store().read());
  }

  @Test
  void transact_returnsTheChangesResult() {
    int size = store().transact(leases -> leases.size() + 41);

    assertEquals(41, size);
  }

  @Test
  void transact_concurrentOpenings_runOneAtATimeAndLoseNoUpdate() throws Exception {
    int threads = 6;
    int each = 15;
    List<Integer> seen = Collections.synchronizedList(new ArrayList<>());
    LeaseLedger maker = LeaseLedger.open(java.nio.file.Path.of(scratch()), CLOCK);
    Topology big = TestHosts.large(threads * each);
    Map<String, Lease> made = new java.util.HashMap<>();
    for (int t = 0; t < threads; t++) {
      for (int i = 0; i < each; i++) {
        Lease l = maker.allocate(AllocationRequest.builder("t" + t + "-" + i).count(1).build(), big);
        made.put(l.owner(), l);
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          LeaseStore mine = store();
          for (int i = 0; i < each; i++) {
            String owner = "t" + thread + "-" + i;
            mine.transact(leases -> {
              seen.add(leases.size());
              Thread.yield();
              leases.put(owner, made.get(owner));
              return null;
            });
          }
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }

    // each transaction saw the one before it: sizes 0 .. n-1, each once, and all leases stored
    assertEquals(threads * each, new TreeSet<>(seen).size(), "sizes seen: " + seen);
    assertEquals(threads * each, store().read().size());
  }

  @Test
  void underOperationLock_otherOpenings_waitForIt() throws Exception {
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        done.add(pool.submit(() -> store().underOperationLock(() -> {
          most.accumulateAndGet(inside.incrementAndGet(), Math::max);
          try {
            Thread.sleep(60);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          inside.decrementAndGet();
          return null;
        })));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }

    assertEquals(1, most.get());
  }

  @Test
  void ledger_overTheStore_allocatesDistinctGroupsIdempotentlyAndReleases() {
    LeaseLedger ledger = LeaseLedger.open(store(), CLOCK);
    Lease a = ledger.allocate(AllocationRequest.builder("vm-a").count(4).build(), host);
    Lease again = LeaseLedger.open(store(), CLOCK)
        .allocate(AllocationRequest.builder("vm-a").count(4).build(), host);
    Lease b = ledger.allocate(AllocationRequest.builder("vm-b").count(4).build(), host);

    ledger.release("vm-a");

    assertEquals(a, again);
    assertTrue(Collections.disjoint(a.groupNumbers(), b.groupNumbers()),
        a.groupNumbers() + " / " + b.groupNumbers());
    assertEquals(List.of(b), LeaseLedger.open(store(), CLOCK).leases());
  }

  @Test
  void location_namesWhereTheLeasesAre() {
    assertNotEquals("", store().location());
  }
}
