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
 * requests and releases for {@code WARMUP} seconds, not measured (JIT compilation, plan caches),
 * then for {@code SECONDS}; prints allocations and releases per second, latency percentiles of
 * acknowledged allocations, the CPU time per operation of the clients and of PostgreSQL (over the
 * measured seconds only), and the audit of the tables afterwards (double allocations, partition
 * rules, host summaries, leases the callers were not told of).
 *
 * <p>Run with the test class path of gpuvirt-core (after {@code mvn -pl gpuvirt-core -am
 * test-compile}):
 * {@code java -cp gpuvirt-core/target/test-classes:gpuvirt-core/target/classes:$(cat cp.txt)
 * io.gpuvirt.core.fleet.FleetBenchmark [SECONDS [THREADS [HOSTS [POOL [WARMUP]]]]]} where
 * {@code cp.txt} comes from {@code mvn -pl gpuvirt-core dependency:build-classpath
 * -Dmdep.outputFile=cp.txt}. Defaults: 20 s measured after 10 s of warm-up, 16 threads per JVM
 * (32 in all), 1,000 hosts, a HikariCP pool of 3 connections per JVM behind a first-come-first-
 * served gate ({@link FifoDataSource}; {@code -Dgpuvirt.fleet.fifo=false} for the pool alone).
 * Latencies are measured from the call, waiting for a connection included. On 2 cores a few
 * connections per JVM serve 32 callers faster than 32 connections: PostgreSQL's CPU per operation
 * falls with fewer backends competing for the cores.
 *
 * <p>{@code -Dgpuvirt.fleet.pg=name=value,...} sets PostgreSQL parameters on the benchmark's
 * throw-away cluster ({@code ALTER SYSTEM}, then a restart), for example
 * {@code wal_level=minimal,max_wal_senders=0,wal_sync_method=open_datasync}. Commits stay
 * synchronous and fsynced ({@code fsync}, {@code synchronous_commit} and
 * {@code full_page_writes} are refused here): durability is part of what is measured.
 */
final class FleetBenchmark {
  private FleetBenchmark() {}

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    int hosts = args.length > 2 ? Integer.parseInt(args[2]) : 1_000;
    int pool = args.length > 3 ? Integer.parseInt(args[3]) : Math.min(threads, 3);
    boolean fifo = Boolean.parseBoolean(System.getProperty("gpuvirt.fleet.fifo", "true"));
    int warmUp = args.length > 4 ? Integer.parseInt(args[4]) : 10;
    TestPostgres pg = TestPostgres.require();
    UrlDataSource schema = pg.freshSchema();
    configure(pg, schema, System.getProperty("gpuvirt.fleet.pg", ""));
    JdbcSchema.migrate(schema);
    Path dir = Files.createTempDirectory("fleet-benchmark");
    try (HikariDataSource hikari = Pools.hikari(schema.url(), pool)) {
      javax.sql.DataSource db = fifo ? new FifoDataSource(hikari, pool) : hikari;
      long t0 = System.nanoTime();
      FleetConcurrencyTest.publish(db, hosts);
      System.out.printf("published %d hosts x 8 GPUs in %.1f s%n", hosts,
          (System.nanoTime() - t0) / 1e9);

      Path journal = dir.resolve("jvm2.journal");
      Process child = new ProcessBuilder(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Dgpuvirt.fleet.fifo=" + fifo, "-cp",
          System.getProperty("java.class.path"), FleetWorker.class.getName(), schema.url(),
          "jvm2", String.valueOf(threads), String.valueOf(seconds * 1_000L), "8",
          journal.toString(), String.valueOf(pool), String.valueOf(warmUp * 1_000L)))
          .redirectErrorStream(true).redirectOutput(dir.resolve("jvm2.out").toFile()).start();
      long[] before = new long[2];
      FleetWorker.Result here = FleetWorker.run(db, "jvm1", threads, Duration.ofSeconds(warmUp),
          Duration.ofSeconds(seconds), 7, () -> {
            before[0] = postgresCpuNanos(schema.url());
            before[1] = FleetWorker.processCpuNanos();
          });
      long clientHere = FleetWorker.processCpuNanos() - before[1];
      if (!child.waitFor(seconds + warmUp + 120L, TimeUnit.SECONDS) || child.exitValue() != 0) {
        throw new IllegalStateException("the second JVM failed: "
            + Files.readString(dir.resolve("jvm2.out")));
      }
      FleetWorker.Result there = FleetWorker.read(journal);
      long server = postgresCpuNanos(schema.url()) - before[0];
      List<String> out = Files.readAllLines(dir.resolve("jvm2.out"));
      long clientThere = out.stream().filter(l -> l.startsWith("CPU "))
          .mapToLong(l -> Long.parseLong(l.substring(4))).findFirst().orElse(0)
          - out.stream().filter(l -> l.startsWith("CPU0 "))
          .mapToLong(l -> Long.parseLong(l.substring(5))).findFirst().orElse(0);

      long allocations = here.allocations() + there.allocations();
      long releases = here.releases() + there.releases();
      long[] latencies = LongStream.concat(LongStream.of(here.latencies()),
          LongStream.of(there.latencies())).sorted().toArray();
      System.out.printf("%d allocators in 2 JVMs (%d connections each%s) for %d s after a %d s "
          + "warm-up on %d hosts:%n", 2 * threads, pool, fifo ? ", first come first served" : "",
          seconds, warmUp, hosts);
      System.out.printf("  allocations: %d (%.0f/s), releases: %d (%.0f/s), refused: %d, "
          + "failed: %d%n", allocations, allocations / (double) seconds, releases,
          releases / (double) seconds, here.refusals() + there.refusals(),
          here.failures() + there.failures());
      System.out.printf("  allocation latency: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f "
          + "ms%n", percentile(latencies, 0.50) / 1e6, percentile(latencies, 0.90) / 1e6,
          percentile(latencies, 0.99) / 1e6,
          (latencies.length == 0 ? 0 : latencies[latencies.length - 1]) / 1e6);
      long operations = Math.max(1, allocations + releases);
      System.out.printf("  CPU per operation (allocation or release): clients %.2f ms (this JVM"
          + " %.2f, the second %.2f; JIT and GC included), PostgreSQL %.2f ms; %.2f of %d cores"
          + " busy%n", (clientHere + clientThere) / 1e6 / operations, clientHere / 1e6 / operations,
          clientThere / 1e6 / operations, server / 1e6 / operations,
          (clientHere + clientThere + server) / 1e9 / seconds,
          Runtime.getRuntime().availableProcessors());
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

  /**
   * Applies {@code settings} ("name=value,name=value", from the system property
   * {@code gpuvirt.fleet.pg}) to the benchmark's throw-away cluster with {@code ALTER SYSTEM},
   * restarts it, and prints what the server then reports for each.
   */
  private static void configure(TestPostgres pg, UrlDataSource db, String settings)
      throws java.sql.SQLException {
    if (settings.isBlank()) {
      return;
    }
    List<String> names = new java.util.ArrayList<>();
    try (java.sql.Connection c = db.getConnection(); java.sql.Statement s = c.createStatement()) {
      for (String setting : settings.split(",")) {
        String[] nv = setting.split("=", 2);
        if (List.of("fsync", "synchronous_commit", "full_page_writes")
            .contains(nv[0].trim().toLowerCase(java.util.Locale.ROOT))) {
          throw new IllegalArgumentException("the benchmark keeps " + nv[0].trim() + " as the "
              + "tests set it: an acknowledged allocation must survive a crash");
        }
        names.add(nv[0].trim());
        s.execute("ALTER SYSTEM SET " + nv[0].trim() + " = '" + nv[1].trim() + "'");
      }
    }
    pg.restart();
    try (java.sql.Connection c = db.getConnection(); java.sql.Statement s = c.createStatement()) {
      for (String name : names) {
        try (java.sql.ResultSet r = s.executeQuery("SHOW " + name)) {
          r.next();
          System.out.printf("PostgreSQL %s = %s%n", name, r.getString(1));
        }
      }
    }
  }

  /**
   * The CPU time PostgreSQL's processes used so far, in nanoseconds: the postmaster listening on
   * the URL's port (its own time and that of the backends it reaped) and its live children, from
   * /proc; 0 where /proc cannot say.
   */
  private static long postgresCpuNanos(String url) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile(":([0-9]+)/").matcher(url);
    if (!m.find()) {
      return 0;
    }
    String port = "-p " + m.group(1);
    long ticks = 0;
    for (ProcessHandle p : ProcessHandle.allProcesses().toList()) {
      String cmd = p.info().commandLine().orElse("");
      if (!cmd.contains("postgres") || !cmd.contains(port + " ")) {
        continue;
      }
      long[] own = procTicks(p.pid());
      ticks += own[0] + own[1] + own[2] + own[3];
      for (ProcessHandle c : p.descendants().toList()) {
        long[] t = procTicks(c.pid());
        ticks += t[0] + t[1];
      }
    }
    return ticks * 10_000_000L; // USER_HZ is 100 on Linux
  }

  /** utime, stime, cutime, cstime of a process, in clock ticks (zeros when it is gone). */
  private static long[] procTicks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
      return new long[] {Long.parseLong(f[11]), Long.parseLong(f[12]), Long.parseLong(f[13]),
          Long.parseLong(f[14])};
    } catch (java.io.IOException | RuntimeException e) {
      return new long[4];
    }
  }

  private static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
  }
}
