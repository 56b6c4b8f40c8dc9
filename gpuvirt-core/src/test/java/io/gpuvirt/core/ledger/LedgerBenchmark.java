package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.alloc.RandomHosts;
import io.gpuvirt.core.pci.Topology;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Benchmark main (reported, never asserted):
 * <ol>
 *   <li>allocate + release cycles per second through the durable ledger (two fsynced commits each);
 *   <li>allocation decision time on a host with 256 SR-IOV VFs as candidates (pure allocator).
 * </ol>
 * Run: {@code java -cp <test-classes>:<classes>:<deps> io.gpuvirt.core.ledger.LedgerBenchmark [stateDir]}.
 */
final class LedgerBenchmark {
  private LedgerBenchmark() {}

  public static void main(String[] args) throws IOException {
    Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("gpuvirt-bench");
    cycles(dir);
    decisions();
  }

  private static void cycles(Path dir) {
    Topology host = LedgerWorker.host();
    LeaseLedger ledger = LeaseLedger.open(dir);
    for (int i = 0; i < 10; i++) {
      ledger.allocate(AllocationRequest.builder("background-" + i).count(2).build(), host);
    }
    AllocationRequest q = AllocationRequest.builder("bench").count(2).build();
    for (int i = 0; i < 200; i++) {
      ledger.allocate(q, host);
      ledger.release("bench");
    }
    int n = 1000;
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      ledger.allocate(q, host);
      ledger.release("bench");
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf("durable allocate+release cycles: %d in %.2f s = %.0f cycles/s "
        + "(%.2f ms per commit; 10 other leases in the ledger, %s)%n", n, seconds, n / seconds,
        seconds * 1000 / (2 * n), dir);
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
