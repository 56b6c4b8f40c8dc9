package io.gpuvirt.benchmarks.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A worker process of the "8 workers in 2 processes" row ({@link WorkerRun}):
 * {@code LedgerWorkerMain STATE HOST_ROOT ID THREADS START_MS END_MS}. It opens the ledger in
 * {@code STATE} (one instance for the process), scans the simulated host at {@code HOST_ROOT}, and
 * runs {@code THREADS} threads until {@code END_MS} (epoch milliseconds), each allocating 2 GPUs
 * as its own owner {@code pID-tN} and releasing them, again and again. Cycles before
 * {@code START_MS} warm the JVM up and are not counted.
 *
 * <p>After each grant the thread reads the ledger back and checks it: its lease must be there,
 * and no other owner's lease may hold one of its groups (a double allocation); each release must
 * find the lease (else a commit of another worker lost it). It prints one line,
 * {@code RESULT cycles refused doubles lost late}: the cycles finished between the two instants,
 * the refused allocations, the doubles, the lost leases, and 1 when the process started after
 * {@code START_MS} (its window was short).
 */
public final class LedgerWorkerMain {
  private LedgerWorkerMain() {}

  /** {@code STATE HOST_ROOT ID THREADS START_MS END_MS}. */
  public static void main(String[] args) throws InterruptedException {
    Path state = Path.of(args[0]);
    Topology topology = TopologyScanner.scan(Sysfs.at(Path.of(args[1])));
    String id = args[2];
    int threads = Integer.parseInt(args[3]);
    long start = Long.parseLong(args[4]);
    long end = Long.parseLong(args[5]);
    boolean late = System.currentTimeMillis() > start;
    LeaseLedger ledger = LeaseLedger.open(state);
    // per thread: cycles, refused, doubles, lost
    AtomicLongArray counts = new AtomicLongArray(4);
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      String owner = "p" + id + "-t" + t;
      Thread worker = new Thread(() -> work(ledger, topology, owner, start, end, counts), owner);
      workers.add(worker);
      worker.start();
    }
    for (Thread worker : workers) {
      worker.join();
    }
    System.out.println("RESULT " + counts.get(0) + " " + counts.get(1) + " " + counts.get(2) + " "
        + counts.get(3) + " " + (late ? 1 : 0));
  }

  private static void work(LeaseLedger ledger, Topology topology, String owner, long start,
      long end, AtomicLongArray counts) {
    AllocationRequest request = AllocationRequest.builder(owner).count(2).build();
    while (true) {
      long now = System.currentTimeMillis();
      if (now >= end) {
        return;
      }
      boolean counted = now >= start;
      Lease lease;
      try {
        lease = ledger.allocate(request, topology);
      } catch (AllocationRefusedException e) {
        counts.incrementAndGet(1);
        continue;
      }
      if (doubles(ledger.leases(), lease)) {
        counts.incrementAndGet(2);
      }
      if (ledger.release(owner).isEmpty()) {
        counts.incrementAndGet(3);
      }
      if (counted && System.currentTimeMillis() < end) {
        counts.incrementAndGet(0);
      }
    }
  }

  /** Whether {@code mine} is missing from {@code leases} or shares a group with another lease. */
  static boolean doubles(List<Lease> leases, Lease mine) {
    Set<Integer> groups = new HashSet<>(mine.groupNumbers());
    boolean present = false;
    for (Lease other : leases) {
      if (other.owner().equals(mine.owner())) {
        present = other.groupNumbers().equals(mine.groupNumbers());
      } else if (other.groupNumbers().stream().anyMatch(groups::contains)) {
        return true;
      }
    }
    return !present;
  }
}
