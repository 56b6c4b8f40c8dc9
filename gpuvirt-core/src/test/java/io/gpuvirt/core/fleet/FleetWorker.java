package io.gpuvirt.core.fleet;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import javax.sql.DataSource;

/**
 * Allocators for the fleet's concurrency tests and benchmark: {@code threads} threads each
 * allocating 1, 2, 4 or 8 GPUs for fresh owners and releasing held leases at random, for a fixed
 * time. Each acknowledged operation is written to a journal ("A owner epoch host gpu,gpu,..." or
 * "R owner") after the call returned, so a test can compare what callers were told with the
 * tables. Run in this JVM ({@link #run}) or as a second JVM ({@link #main}).
 */
public final class FleetWorker {
  private static final int[] SIZES = {1, 2, 4, 8};

  /** What the run did; latencies of acknowledged allocations in nanoseconds, sorted. */
  record Result(long allocations, long releases, long refusals, long failures, long[] latencies,
      List<String> journal, List<String> errors) {
    long percentile(double p) {
      if (latencies.length == 0) {
        return 0;
      }
      return latencies[Math.min(latencies.length - 1, (int) Math.ceil(p * latencies.length) - 1)];
    }
  }

  private FleetWorker() {}

  static Result run(DataSource db, String prefix, int threads, Duration duration, long seed) {
    return run(db, prefix, threads, Duration.ZERO, duration, seed, () -> { });
  }

  /**
   * As {@link #run(DataSource, String, int, Duration, long)} after a warm-up of {@code warmUp}:
   * operations that start during it are journaled but neither counted nor timed (JIT
   * compilation, the server's plan caches and the pool's first connections are not measured);
   * {@code atMeasureStart} runs once when it ends (where a benchmark samples CPU counters).
   */
  static Result run(DataSource db, String prefix, int threads, Duration warmUp,
      Duration duration, long seed, Runnable atMeasureStart) {
    Fleet fleet = Fleet.open(db);
    List<String> journal = Collections.synchronizedList(new ArrayList<>());
    List<String> errors = Collections.synchronizedList(new ArrayList<>());
    List<long[]> latencies = Collections.synchronizedList(new ArrayList<>());
    AtomicLong allocations = new AtomicLong();
    AtomicLong releases = new AtomicLong();
    AtomicLong refusals = new AtomicLong();
    AtomicLong failures = new AtomicLong();
    long measureFrom = System.nanoTime() + warmUp.toNanos();
    long end = measureFrom + duration.toNanos();
    List<Thread> running = new ArrayList<>();
    Thread sampler = new Thread(() -> {
      long wait = measureFrom - System.nanoTime();
      if (wait > 0) {
        try {
          Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        } catch (InterruptedException e) {
          return;
        }
      }
      atMeasureStart.run();
    }, prefix + "-sampler");
    sampler.start();
    running.add(sampler);
    for (int t = 0; t < threads; t++) {
      int thread = t;
      Thread worker = new Thread(() -> {
        SplittableRandom random = new SplittableRandom(seed * 1_000 + thread);
        List<String> held = new ArrayList<>();
        long[] mine = new long[1 << 16];
        int n = 0;
        int next = 0;
        while (System.nanoTime() < end) {
          try {
            if (held.isEmpty() || (held.size() < 6 && random.nextBoolean())) {
              String owner = prefix + "-t" + thread + "-" + next++;
              int size = SIZES[random.nextInt(SIZES.length)];
              long start = System.nanoTime();
              FleetLease lease = fleet.allocate(FleetRequest.of(owner, size));
              long took = System.nanoTime() - start;
              if (start >= measureFrom) {
                if (n < mine.length) {
                  mine[n++] = took;
                }
                allocations.incrementAndGet();
              }
              held.add(owner);
              journal.add("A " + owner + " " + lease.epoch() + " " + lease.host() + " "
                  + lease.gpus().stream().map(g -> g.address().toString())
                      .collect(Collectors.joining(",")));
            } else {
              String owner = held.remove(random.nextInt(held.size()));
              long start = System.nanoTime();
              fleet.release(owner);
              if (start >= measureFrom) {
                releases.incrementAndGet();
              }
              journal.add("R " + owner);
            }
          } catch (AllocationRefusedException e) {
            refusals.incrementAndGet();
          } catch (RuntimeException e) {
            failures.incrementAndGet();
            errors.add(e.toString());
          }
        }
        latencies.add(java.util.Arrays.copyOf(mine, n));
      }, prefix + "-allocator-" + t);
      worker.start();
      running.add(worker);
    }
    for (Thread t : running) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    long[] all = latencies.stream().flatMapToLong(java.util.Arrays::stream).sorted().toArray();
    return new Result(allocations.get(), releases.get(), refusals.get(), failures.get(), all,
        List.copyOf(journal), List.copyOf(errors));
  }

  /**
   * {@code URL PREFIX THREADS MILLIS SEED OUT [POOL [WARMUP_MILLIS]]}: runs {@link #run} against
   * the database at {@code URL} and writes the journal, then "# allocations releases refusals
   * failures" and each latency ("L nanos") and error ("E text"), to {@code OUT}; prints the
   * process's CPU time when the measurement began ("CPU0 nanos") and at the end ("CPU nanos").
   */
  public static void main(String[] args) throws IOException {
    if (args.length < 6 || args.length > 8) {
      System.err.println("usage: FleetWorker URL PREFIX THREADS MILLIS SEED OUT [POOL "
          + "[WARMUP_MILLIS]]");
      System.exit(2);
    }
    int size = Integer.parseInt(args.length >= 7 ? args[6] : args[2]);
    DataSource db = Pools.hikari(args[0], size);
    if (Boolean.getBoolean("gpuvirt.fleet.fifo")) {
      db = new FifoDataSource(db, size);
    }
    Duration warmUp = Duration.ofMillis(args.length == 8 ? Long.parseLong(args[7]) : 0);
    long[] cpuAtStart = new long[1];
    Result r = run(db, args[1], Integer.parseInt(args[2]), warmUp,
        Duration.ofMillis(Long.parseLong(args[3])), Long.parseLong(args[4]),
        () -> cpuAtStart[0] = processCpuNanos());
    try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(Path.of(args[5]),
        StandardCharsets.UTF_8))) {
      r.journal().forEach(out::println);
      out.println("# " + r.allocations() + " " + r.releases() + " " + r.refusals() + " "
          + r.failures());
      for (long l : r.latencies()) {
        out.println("L " + l);
      }
      r.errors().forEach(e -> out.println("E " + e.replace('\n', ' ')));
    }
    // The process's CPU time (all threads), for the benchmark's client/server split.
    System.out.println("CPU0 " + cpuAtStart[0]);
    System.out.println("CPU " + processCpuNanos());
    System.exit(0);
  }

  /** This process's CPU time so far (all threads), in nanoseconds. */
  static long processCpuNanos() {
    return ProcessHandle.current().info().totalCpuDuration().orElse(Duration.ZERO).toNanos();
  }

  /** Reads a journal file {@link #main} wrote back as a {@link Result}. */
  static Result read(Path file) throws IOException {
    List<String> journal = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    List<Long> latencies = new ArrayList<>();
    long[] counts = new long[4];
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (line.startsWith("# ")) {
        String[] f = line.substring(2).split(" ");
        for (int i = 0; i < 4; i++) {
          counts[i] = Long.parseLong(f[i]);
        }
      } else if (line.startsWith("L ")) {
        latencies.add(Long.parseLong(line.substring(2)));
      } else if (line.startsWith("E ")) {
        errors.add(line.substring(2));
      } else {
        journal.add(line);
      }
    }
    return new Result(counts[0], counts[1], counts[2], counts[3],
        latencies.stream().mapToLong(Long::longValue).sorted().toArray(), journal, errors);
  }
}
