package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Invariants;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.alloc.RandomHosts;
import io.gpuvirt.core.pci.Topology;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random allocate / re-allocate / release / state sequences through the durable ledger: after every
 * step the ledger read back by a fresh instance equals the leases in memory, and the invariants hold.
 */
final class LedgerPropertyTest {
  @TempDir
  Path root;

  static LongStream seeds() {
    return LongStream.range(0, 40);
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void randomSequences_ledgerReadBackEqualsMemory(long seed) {
    Path dir = root.resolve("seed-" + seed);
    RandomHosts.RandomHost random = RandomHosts.generate(seed);
    Topology host = random.topology();
    SplittableRandom rnd = new SplittableRandom(seed);
    Clock clock = Clock.offset(Clock.fixed(Instant.parse("2026-01-05T10:00:00Z"), ZoneOffset.UTC),
        java.time.Duration.ofNanos(seed * 1_000_003));
    LeaseLedger ledger = LeaseLedger.open(dir, clock);
    TreeMap<String, Lease> memory = new TreeMap<>();
    for (int step = 0; step < 25; step++) {
      String where = "seed " + seed + " step " + step + ": ";
      String owner = "vm-" + rnd.nextInt(8);
      int action = rnd.nextInt(10);
      if (action < 5) {
        AllocationRequest q = AllocationRequest.builder(owner).count(1 + rnd.nextInt(3))
            .placement(Placement.values()[rnd.nextInt(3)]).build();
        if (memory.containsKey(owner)) {
          q = memory.get(owner).request();
        }
        try {
          Lease lease = ledger.allocate(q, host);
          if (memory.containsKey(owner)) {
            assertEquals(memory.get(owner), lease, where + "not idempotent");
          }
          memory.put(owner, lease);
        } catch (AllocationRefusedException e) {
          // the host is full for this request: nothing changes
        }
      } else if (action < 8) {
        assertEquals(java.util.Optional.ofNullable(memory.remove(owner)), ledger.release(owner),
            where + "release");
      } else if (memory.containsKey(owner)) {
        memory.put(owner, ledger.updateState(owner, LeaseState.BOUND));
      }
      assertEquals(List.copyOf(memory.values()), LeaseLedger.open(dir).leases(), where);
      assertNull(Invariants.disjoint(memory.values()), where);
      for (Lease l : memory.values()) {
        assertNull(Invariants.satisfies(l, host), where);
      }
    }
  }
}
