package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two threads, and two processes, provisioning different owners on one host never share an IOMMU
 * group or a partition (invariant 5), and leave the host consistent.
 */
final class ConcurrencyTest {
  private static final int ROUNDS = 6;

  @TempDir
  Path logs;

  @Test
  void twoThreads_neverShareAGroupOrAPartition() throws Exception {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot initial = site.snapshot();
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        List<Future<List<String>>> results = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
          String owner = "vm-thread-" + t;
          SplittableRandom rnd = new SplittableRandom(t);
          results.add(pool.submit(() -> provisionLoop(site, owner, rnd)));
        }
        List<String> overlaps = new ArrayList<>();
        for (Future<List<String>> f : results) {
          overlaps.addAll(f.get());
        }

        assertEquals(List.of(), overlaps);
      } finally {
        pool.shutdownNow();
      }
      HostSnapshot.assertUnchanged(initial, site.snapshot(), "after both threads");
    }
  }

  @Test
  void twoProcesses_neverShareAGroupOrAPartition() throws Exception {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      String root = site.root().toString();
      ChildJvm first = ChildJvm.start(logs.resolve("first.log"), root, "partitions",
          "provision-all", "2", "vm-p1-a", "vm-p1-b");
      ChildJvm second = ChildJvm.start(logs.resolve("second.log"), root, "partitions",
          "provision-all", "2", "vm-p2-a", "vm-p2-b");
      assertEquals(0, first.waitFor(), first.output());
      assertEquals(0, second.waitFor(), second.output());

      List<Lease> leases = site.ledger().leases();
      assertEquals(List.of(), overlaps(leases), "leases " + leases);
      assertEquals(4, leases.stream().filter(l -> l.state() == LeaseState.BOUND).count());
      assertEquals(List.of(), site.violations(site.snapshot()));
    }
  }

  /** Provisions and tears down its owner with random sizes; returns overlaps seen meanwhile. */
  private static List<String> provisionLoop(SimulatedSite site, String owner,
      SplittableRandom rnd) {
    List<String> overlaps = new ArrayList<>();
    for (int i = 0; i < ROUNDS; i++) {
      int count = List.of(1, 2, 4).get(rnd.nextInt(3));
      try {
        site.provisioner().provision(AllocationRequest.builder(owner).count(count).build());
        overlaps.addAll(overlaps(site.ledger().leases()));
        assertTrue(site.provisioner().teardown(owner), owner);
      } catch (AllocationRefusedException e) {
        // the other thread holds what would fit; try again with another size
      }
    }
    return overlaps;
  }

  /** Every IOMMU group or partition held by two leases. */
  static List<String> overlaps(List<Lease> leases) {
    List<String> out = new ArrayList<>();
    Map<Integer, String> groups = new HashMap<>();
    Map<Integer, String> partitions = new HashMap<>();
    Map<PciAddress, String> devices = new HashMap<>();
    for (Lease l : leases) {
      for (int g : l.groupNumbers()) {
        String other = groups.put(g, l.owner());
        if (other != null) {
          out.add("IOMMU group " + g + " leased to " + other + " and " + l.owner());
        }
      }
      l.partitionId().ifPresent(p -> {
        String other = partitions.put(p, l.owner());
        if (other != null) {
          out.add("partition " + p + " leased to " + other + " and " + l.owner());
        }
      });
      l.devices().forEach(d -> {
        String other = devices.put(d.address(), l.owner());
        if (other != null) {
          out.add(d.address() + " leased to " + other + " and " + l.owner());
        }
      });
    }
    return out;
  }
}
