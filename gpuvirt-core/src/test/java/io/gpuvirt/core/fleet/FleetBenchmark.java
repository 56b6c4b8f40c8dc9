package io.gpuvirt.core.fleet;

import com.zaxxer.hikari.HikariDataSource;
import io.gpuvirt.core.fleet.testing.TestPostgres;
import io.gpuvirt.core.fleet.testing.UrlDataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;

/**
 * Benchmark (not a test): fleet allocation throughput and latency on a real PostgreSQL on this
 * machine. {@code HOSTS} inventory-only HGX B200 hosts (8 GPUs, the B200 partition table), then
 * {@code THREADS} allocators in this JVM and as many in a second JVM issuing random 1/2/4/8-GPU
 * requests and releases for {@code SECONDS}; prints allocations and releases per second, latency
 * percentiles of acknowledged allocations, and the audit of the tables afterwards (double
 * allocations, partition rules, leases the callers were not told of).
 *
 * <p>Run with the test class path of gpuvirt-core (after {@code mvn -pl gpuvirt-core
 * test-compile}):
 * {@code java -cp gpuvirt-core/target/test-classes:gpuvirt-core/target/classes:$(cat cp.txt)
 * io.gpuvirt.core.fleet.FleetBenchmark [SECONDS [THREADS [HOSTS [POOL]]]]} where {@code cp.txt} comes
 * from {@code mvn -pl gpuvirt-core dependency:build-classpath -Dmdep.outputFile=cp.txt}. Defaults:
 * 20 s, 16 threads per JVM (32 in all), 1,000 hosts, a pool of as many connections as threads.
 */
final class FleetBenchmark {
  private FleetBenchmark() {}

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    int hosts = args.length > 2 ? Integer.parseInt(args[2]) : 1_000;
    int pool = args.length > 3 ? Integer.parseInt(args[3]) : threads;
    TestPostgres pg = TestPostgres.require();
    UrlDataSource schema = pg.freshSchema();
    JdbcSchema.migrate(schema);
    Path dir = Files.createTempDirectory("fleet-benchmark");
    try (HikariDataSource db = Pools.hikari(schema.url(), pool)) {
      long t0 = System.nanoTime();
      FleetConcurrencyTest.publish(db, hosts);
      System.out.printf("published %d hosts x 8 GPUs in %.1f s%n", hosts,
          (System.nanoTime() - t0) / 1e9);

      Path journal = dir.resolve("jvm2.journal");
      Process child = new ProcessBuilder(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
          System.getProperty("java.class.path"), FleetWorker.class.getName(), schema.url(),
          "jvm2", String.valueOf(threads), String.valueOf(seconds * 1_000L), "8",
          journal.toString(), String.valueOf(pool)))
          .redirectErrorStream(true).redirectOutput(dir.resolve("jvm2.out").toFile()).start();
      FleetWorker.Result here = FleetWorker.run(db, "jvm1", threads, Duration.ofSeconds(seconds),
          7);
      if (!child.waitFor(seconds + 120L, TimeUnit.SECONDS) || child.exitValue() != 0) {
        throw new IllegalStateException("the second JVM failed: "
            + Files.readString(dir.resolve("jvm2.out")));
      }
      FleetWorker.Result there = FleetWorker.read(journal);

      long allocations = here.allocations() + there.allocations();
      long releases = here.releases() + there.releases();
      long[] latencies = LongStream.concat(LongStream.of(here.latencies()),
          LongStream.of(there.latencies())).sorted().toArray();
      System.out.printf("%d allocators in 2 JVMs (%d connections each) for %d s on %d hosts:%n",
          2 * threads, pool, seconds, hosts);
      System.out.printf("  allocations: %d (%.0f/s), releases: %d (%.0f/s), refused: %d, "
          + "failed: %d%n", allocations, allocations / (double) seconds, releases,
          releases / (double) seconds, here.refusals() + there.refusals(),
          here.failures() + there.failures());
      System.out.printf("  allocation latency: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f "
          + "ms%n", percentile(latencies, 0.50) / 1e6, percentile(latencies, 0.90) / 1e6,
          percentile(latencies, 0.99) / 1e6,
          (latencies.length == 0 ? 0 : latencies[latencies.length - 1]) / 1e6);
      List<String> problems = FleetAudit.problems(db);
      Map<String, Boolean> holds = new HashMap<>();
      for (FleetWorker.Result r : List.of(here, there)) {
        for (String line : r.journal()) {
          String[] f = line.split(" ");
          holds.put(f[1], f[0].equals("A"));
        }
      }
      long held = holds.values().stream().filter(b -> b).count();
      int inTables = Fleet.open(db).leases().size();
      System.out.printf("  audit: %d problems %s; leases held by the callers %d, in the tables "
          + "%d%n", problems.size(), problems.isEmpty() ? "" : problems, held, inTables);
      List<String> errors = new java.util.ArrayList<>(here.errors());
      errors.addAll(there.errors());
      errors.stream().limit(5).forEach(e -> System.out.println("  error: " + e));
    }
    System.exit(0);
  }

  private static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
  }
}
