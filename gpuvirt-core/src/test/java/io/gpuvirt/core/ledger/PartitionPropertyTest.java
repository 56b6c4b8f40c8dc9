package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.alloc.B200FabricManager;
import io.gpuvirt.core.alloc.TestHosts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.Topology;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random allocate / activate / release / foreign-activation sequences on an HGX B200 with its
 * partition table: partition mode never yields overlapping partitions, every lease is exactly one
 * partition's GPUs by module id, and a request is refused only when no partition could serve it.
 */
final class PartitionPropertyTest {
  private static final Instant NOW = Instant.parse("2026-01-05T10:00:00Z");
  private static final int[] SIZES = {1, 1, 1, 2, 2, 4, 8, 3};

  static LongStream seeds() {
    return LongStream.range(0, 200);
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void randomSequences_neverOverlapPartitions(long seed) {
    Topology host = TestHosts.hgxB200();
    B200FabricManager fm = new B200FabricManager();
    if (seed % 5 == 0) {
      fm.unsupported(2 + (int) (seed % 3));
    }
    PartitionContext context = new PartitionContext(fm, TestHosts.b200ModuleIds());
    SplittableRandom rnd = new SplittableRandom(seed);
    TreeMap<String, Lease> leases = new TreeMap<>();
    for (int step = 0; step < 40; step++) {
      String where = "seed " + seed + " step " + step + ": ";
      int action = rnd.nextInt(10);
      String owner = "vm-" + rnd.nextInt(6);
      Map<Integer, FabricPartition> byId = new TreeMap<>();
      fm.listPartitions().forEach(p -> byId.put(p.id(), p));
      if (action < 5 && !leases.containsKey(owner)) {
        int n = SIZES[rnd.nextInt(SIZES.length)];
        boolean possible = possible(n, byId, fm.unsupportedPartitionIds(), leases);
        try {
          Lease lease = Allocator.allocate(AllocationRequest.builder(owner).count(n).build(),
              host, List.copyOf(leases.values()), context, NOW);
          assertTrue(possible, where + "granted " + n + " although impossible");
          leases.put(owner, lease);
        } catch (AllocationRefusedException e) {
          if (possible) {
            fail(where + "refused " + n + " although possible: " + e.getMessage());
          }
        }
      } else if (action < 7 && leases.containsKey(owner)) {
        int id = leases.get(owner).partitionId().getAsInt();
        if (!byId.get(id).active()) {
          fm.activate(id);
        }
      } else if (action < 9 && leases.containsKey(owner)) {
        int id = leases.remove(owner).partitionId().getAsInt();
        if (byId.get(id).active()) {
          fm.deactivate(id);
        }
      } else {
        foreignActivation(rnd, fm, byId, leases);
      }
      check(where, leases, fm);
    }
  }

  /** Someone else activates or deactivates an unleased partition. */
  private static void foreignActivation(SplittableRandom rnd, B200FabricManager fm,
      Map<Integer, FabricPartition> byId, Map<String, Lease> leases) {
    FabricPartition p = byId.get(1 + rnd.nextInt(15));
    boolean leased = leases.values().stream().anyMatch(l -> l.partitionId().getAsInt() == p.id()
        || modules(l).stream().anyMatch(p.moduleIds()::contains));
    if (p.active() && !leased) {
      fm.deactivate(p.id());
    } else if (!p.active() && !leased
        && byId.values().stream().noneMatch(q -> q.active() && q.overlaps(p))) {
      fm.activate(p.id());
    }
  }

  private static boolean possible(int n, Map<Integer, FabricPartition> byId,
      List<Integer> unsupported, Map<String, Lease> leases) {
    Set<Integer> busy = new HashSet<>();
    byId.values().stream().filter(FabricPartition::active).forEach(p -> busy.addAll(p.moduleIds()));
    leases.values().forEach(l -> busy.addAll(modules(l)));
    return byId.values().stream().anyMatch(p -> p.size() == n && !p.active()
        && !unsupported.contains(p.id()) && p.moduleIds().stream().noneMatch(busy::contains));
  }

  private static Set<Integer> modules(Lease lease) {
    return lease.requestedDevices().stream().map(d -> d.moduleId().getAsInt())
        .collect(Collectors.toCollection(TreeSet::new));
  }

  private static void check(String where, Map<String, Lease> leases, B200FabricManager fm) {
    Map<Integer, FabricPartition> byId = new TreeMap<>();
    fm.listPartitions().forEach(p -> byId.put(p.id(), p));
    Set<Integer> taken = new HashSet<>();
    for (Lease l : leases.values()) {
      FabricPartition p = byId.get(l.partitionId().getAsInt());
      Set<PciAddress> expected = p.moduleIds().stream().map(TestHosts::b200Gpu)
          .collect(Collectors.toCollection(TreeSet::new));
      Set<PciAddress> got = l.requestedDevices().stream().map(LeasedDevice::address)
          .collect(Collectors.toCollection(TreeSet::new));
      assertEquals(expected, got, where + l.owner() + " holds other GPUs than partition " + p.id());
      for (int m : p.moduleIds()) {
        assertTrue(taken.add(m), where + "module " + m + " in two leased partitions");
      }
      for (FabricPartition q : byId.values()) {
        assertFalse(q.active() && q.id() != p.id() && q.overlaps(p),
            where + l.owner() + "'s partition " + p.id() + " overlaps active partition " + q.id());
      }
    }
  }
}
