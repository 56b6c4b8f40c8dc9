package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.alloc.Invariants;
import io.gpuvirt.core.alloc.RandomHosts;
import io.gpuvirt.core.alloc.TestHost;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random hosts and random allocate/release sequences against the pure allocator; after every
 * step the invariants hold. A failure names its seed and step: rerun with that seed to replay.
 */
final class AllocatorPropertyTest {
  private static final int STEPS = 40;
  private static final Instant NOW = Instant.parse("2026-01-05T10:00:00Z");

  static LongStream seeds() {
    return LongStream.range(0, 300);
  }

  /** A random request on {@code host} (some selectors, placements and allowances). */
  static AllocationRequest randomRequest(SplittableRandom rnd, String owner,
      RandomHosts.RandomHost host) {
    int count = rnd.nextInt(10) < 7 ? 1 + rnd.nextInt(3) : 1 + rnd.nextInt(8);
    DeviceSelector selector = switch (rnd.nextInt(4)) {
      case 0 -> DeviceSelector.id(TestHost.B200);
      case 1 -> DeviceSelector.pciClass(0x0302);
      default -> DeviceSelector.anyGpu();
    };
    AllocationRequest.Builder b = AllocationRequest.builder(owner).count(count).selector(selector)
        .placement(Placement.values()[rnd.nextInt(10) < 6 ? 0 : 1 + rnd.nextInt(2)]);
    if (!host.foreign().isEmpty() && rnd.nextInt(4) == 0) {
      b.allowForeign(host.foreign().get(rnd.nextInt(host.foreign().size())));
    }
    return b.build();
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void randomSequences_keepEveryInvariant(long seed) {
    RandomHosts.RandomHost random = RandomHosts.generate(seed);
    Topology host = random.topology();
    SplittableRandom rnd = new SplittableRandom(seed * 31 + 7);
    TreeMap<String, Lease> leases = new TreeMap<>();
    for (int step = 0; step < STEPS; step++) {
      String where = "seed " + seed + " step " + step + ": ";
      String owner = "vm-" + rnd.nextInt(12);
      if (leases.containsKey(owner) && rnd.nextInt(3) > 0) {
        leases.remove(owner);
        continue;
      }
      if (leases.containsKey(owner)) {
        continue;
      }
      AllocationRequest q = randomRequest(rnd, owner, random);
      Map<Integer, List<PciDevice>> eligible = Invariants.eligible(q, host, leases.values());
      boolean possible = Invariants.canMake(eligible.values().stream().map(List::size).toList(),
          q.count());
      Lease lease;
      try {
        lease = Allocator.allocate(q, host, List.copyOf(leases.values()), NOW);
      } catch (AllocationRefusedException e) {
        if (possible) {
          fail(where + "refused although possible: " + q + ": " + e.getMessage());
        }
        continue;
      }
      assertTrue(possible, where + "granted although impossible: " + q);
      assertNull(Invariants.satisfies(lease, host), where);
      leases.put(owner, lease);
      assertNull(Invariants.disjoint(leases.values()), where);
      checkPlacement(where, q, lease, eligible, host);
    }
  }

  private static void checkPlacement(String where, AllocationRequest q, Lease lease,
      Map<Integer, List<PciDevice>> eligible, Topology host) {
    if (q.placement() == Placement.SAME_NUMA_NODE) {
      Map<Integer, List<Integer>> byNode = Invariants.weightsByNode(eligible);
      Map<Integer, Integer> feasibleFree = new TreeMap<>();
      byNode.forEach((node, weights) -> {
        if (Invariants.canMake(weights, q.count())) {
          feasibleFree.put(node, weights.stream().mapToInt(Integer::intValue).sum());
        }
      });
      if (feasibleFree.isEmpty()) {
        assertTrue(lease.spansNumaNodes() || byNode.size() <= 1,
            where + "no node could hold it, yet one node was used: " + lease.numaNodes());
        return;
      }
      assertEquals(1, lease.numaNodes().size(), where + "spilled although " + feasibleFree
          + " could hold " + q.count());
      int chosen = lease.numaNodes().first();
      int bestFree = feasibleFree.values().stream().mapToInt(Integer::intValue).min().orElseThrow();
      assertEquals(bestFree, (int) feasibleFree.getOrDefault(chosen, -1),
          where + "NUMA best fit: chose node " + chosen + " among " + feasibleFree);
    } else if (q.placement() == Placement.SAME_PCIE_SWITCH) {
      boolean someBridgeFits = host.devices().stream().filter(PciDevice::isBridge).anyMatch(b ->
          Invariants.canMake(eligible.values().stream()
              .filter(m -> m.stream().allMatch(d -> host.upstreamChain(d.address()).contains(b)))
              .map(List::size).toList(), q.count()));
      if (someBridgeFits) {
        Set<PciDevice> common = null;
        for (LeasedDevice d : lease.requestedDevices()) {
          Set<PciDevice> chain = new HashSet<>(host.upstreamChain(d.address()));
          if (common == null) {
            common = chain;
          } else {
            common.retainAll(chain);
          }
        }
        assertTrue(common != null && !common.isEmpty(),
            where + "a bridge could hold the request but the lease spans bridges: "
            + lease.groupNumbers());
      }
    } else if (eligible.values().stream().allMatch(m -> m.size() == 1)) {
      Set<Integer> nodesWithCapacity = new HashSet<>();
      eligible.values().forEach(m -> nodesWithCapacity.add(m.get(0).numaNode()));
      assertEquals(Math.min(q.count(), nodesWithCapacity.size()), lease.numaNodes().size(),
          where + "spread used " + lease.numaNodes() + " of " + nodesWithCapacity);
    }
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void sameHostAndLeases_giveTheSameLease(long seed) {
    RandomHosts.RandomHost random = RandomHosts.generate(seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    AllocationRequest q = randomRequest(rnd, "vm-1", random);
    List<Lease> results = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      try {
        results.add(Allocator.allocate(q, RandomHosts.generate(seed).topology(), List.of(), NOW));
      } catch (AllocationRefusedException e) {
        results.add(null);
      }
    }

    assertEquals(results.get(0), results.get(1), "seed " + seed);
  }
}
