package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.alloc.RandomHosts;
import io.gpuvirt.core.pci.Topology;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Benchmark main (reported, never asserted): allocation decision time on a host with 256 SR-IOV
 * VFs as candidates (the pure allocator, no ledger). The durable allocate + release cycles through
 * the ledger, against a bare fsync loop, are measured by the {@code gpuvirt-benchmarks} module
 * ({@code LedgerCycleBenchmark}). Run: {@code java -cp <test-classes>:<classes>:<deps>
 * io.gpuvirt.core.ledger.AllocatorBenchmark}.
 */
final class AllocatorBenchmark {
  private AllocatorBenchmark() {}

  public static void main(String[] args) {
    decisions();
  }

  private static void decisions() {
    Topology host = RandomHosts.sriovHost(1, 256);
    Instant now = Instant.now();
    List<Lease> busy = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      busy.add(Allocator.allocate(AllocationRequest.builder("busy-" + i).count(4)
          .placement(Placement.SPREAD).build(), host, busy, now));
    }
    for (Placement placement : Placement.values()) {
      for (int count : new int[] {1, 8, 64}) {
        AllocationRequest q = AllocationRequest.builder("vm").count(count).placement(placement)
            .build();
        for (List<Lease> leases : List.of(List.<Lease>of(), busy)) {
          for (int i = 0; i < 300; i++) {
            Allocator.allocate(q, host, leases, now);
          }
          int n = 2000;
          long start = System.nanoTime();
          for (int i = 0; i < n; i++) {
            Allocator.allocate(q, host, leases, now);
          }
          double micros = (System.nanoTime() - start) / 1e3 / n;
          System.out.printf("decision, 256 VF candidates, %-16s count %2d, %2d leases held: "
              + "%8.1f us%n", placement, count, leases.size(), micros);
        }
      }
    }
  }
}
