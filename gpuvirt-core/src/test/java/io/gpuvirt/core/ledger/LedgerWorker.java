package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.TestHosts;
import io.gpuvirt.core.pci.Topology;
import java.nio.file.Path;
import java.util.SortedSet;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * A child process for the multi-process and crash tests: works on one state directory and prints
 * what it did, one line per committed operation.
 *
 * <ul>
 *   <li>{@code grab DIR ID SEED}: allocates 1-3 GPUs per lease as owner {@code wID-k} until the host
 *       is full; prints {@code GRANT owner g1,g2}.
 *   <li>{@code churn DIR ID SEED OPS}: allocates and releases its own owners at random; prints
 *       {@code GRANT owner groups} and {@code RELEASE owner}.
 *   <li>{@code crash DIR}: runs {@link #op} 0, 1, 2, ... forever, printing {@code DONE i} after each
 *       commit, until it is killed.
 * </ul>
 */
final class LedgerWorker {
  /** GPUs of the worker host. */
  static final int GPUS = 40;
  /** Live leases in the crash sequence. */
  private static final int WINDOW = 20;

  private LedgerWorker() {}

  static Topology host() {
    return TestHosts.large(GPUS);
  }

  public static void main(String[] args) {
    Path dir = Path.of(args[1]);
    switch (args[0]) {
      case "grab" -> grab(dir, args[2], Long.parseLong(args[3]));
      case "churn" -> churn(dir, args[2], Long.parseLong(args[3]), Integer.parseInt(args[4]));
      case "crash" -> crash(dir);
      default -> throw new IllegalArgumentException("unknown mode " + args[0]);
    }
    System.out.flush();
  }

  private static void grab(Path dir, String id, long seed) {
    Topology host = host();
    SplittableRandom rnd = new SplittableRandom(seed);
    LeaseLedger ledger = LeaseLedger.open(dir);
    int count = 1 + rnd.nextInt(3);
    for (int k = 0; ; k++) {
      try {
        Lease lease = ledger.allocate(AllocationRequest.builder("w" + id + "-" + k).count(count)
            .build(), host);
        System.out.println("GRANT " + lease.owner() + " " + groups(lease));
        count = 1 + rnd.nextInt(3);
      } catch (AllocationRefusedException e) {
        if (count == 1) {
          return;
        }
        count = 1;
        k--;
      }
    }
  }

  private static void churn(Path dir, String id, long seed, int ops) {
    Topology host = host();
    SplittableRandom rnd = new SplittableRandom(seed);
    LeaseLedger ledger = LeaseLedger.open(dir);
    for (int i = 0; i < ops; i++) {
      String owner = "w" + id + "-" + rnd.nextInt(5);
      if (rnd.nextBoolean()) {
        ledger.release(owner).ifPresent(l -> System.out.println("RELEASE " + owner));
      } else if (ledger.lease(owner).isEmpty()) {
        try {
          Lease lease = ledger.allocate(AllocationRequest.builder(owner)
              .count(1 + rnd.nextInt(4)).build(), host);
          System.out.println("GRANT " + owner + " " + groups(lease));
        } catch (AllocationRefusedException e) {
          // full for now
        }
      }
    }
  }

  private static void crash(Path dir) {
    Topology host = host();
    LeaseLedger ledger = LeaseLedger.open(dir);
    for (int i = 0; ; i++) {
      String[] op = op(i);
      if (op[0].equals("alloc")) {
        ledger.allocate(AllocationRequest.builder(op[1]).build(), host);
      } else {
        ledger.release(op[1]);
      }
      System.out.println("DONE " + i);
      System.out.flush();
    }
  }

  /** Operation {@code i} of the crash sequence: allocate c-0..c-19, then release and allocate in turn. */
  static String[] op(int i) {
    if (i < WINDOW) {
      return new String[] {"alloc", "c-" + i};
    }
    int r = i - WINDOW;
    return r % 2 == 0 ? new String[] {"release", "c-" + r / 2}
        : new String[] {"alloc", "c-" + (WINDOW + r / 2)};
  }

  /** The owners holding leases after operations 0..i ({@code i = -1}: none). */
  static SortedSet<String> ownersAfter(int i) {
    SortedSet<String> owners = new TreeSet<>();
    for (int k = 0; k <= i; k++) {
      String[] op = op(k);
      if (op[0].equals("alloc")) {
        owners.add(op[1]);
      } else {
        owners.remove(op[1]);
      }
    }
    return owners;
  }

  private static String groups(Lease lease) {
    return String.join(",", lease.groupNumbers().stream().map(String::valueOf).toList());
  }
}
