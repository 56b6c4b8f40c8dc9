package io.gpuvirt.core.fleet;

import io.gpuvirt.core.fleet.testing.TestPostgres;
import io.gpuvirt.core.fleet.testing.UrlDataSource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many allocators on ~1,000 inventory-only HGX B200 hosts, in this JVM and a second one, and the
 * database failing under them: afterwards the tables hold exactly the leases callers were told
 * they got, no GPU twice, every partition rule kept.
 */
final class FleetConcurrencyTest {
  static final int HOSTS = 1_000;
  private static final long SEED = Long.getLong("gpuvirt.seed", 19L);
  private TestPostgres pg;
  private String schemaUrl;
  private HikariDataSource db;

  @TempDir
  Path dir;

  @BeforeEach
  void fleet() throws Exception {
    pg = TestPostgres.require();
    UrlDataSource schema = pg.freshSchema();
    schemaUrl = schema.url();
    JdbcSchema.migrate(schema);
    db = Pools.hikari(schemaUrl, 8);
    publish(db, HOSTS);
  }

  @AfterEach
  void close() {
    db.close();
  }

  /** Publishes {@code hosts} B200 inventories, 4 at a time, and makes them live. */
  static void publish(javax.sql.DataSource db, int hosts) throws Exception {
    Fleet fleet = Fleet.open(db);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < hosts; i++) {
        String name = String.format("hgx-%04d", i);
        done.add(pool.submit(() -> {
          fleet.publish(Inventories.b200(name));
          fleet.heartbeat(name, Duration.ofHours(1));
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
  }

  @Test
  void allocate_threadsAndASecondJvm_noDoubleAllocationNoLostLease() throws Exception {
    Path journal = dir.resolve("child.journal");
    Process child = childJvm("jvm2", 6, Duration.ofSeconds(5), journal);

    FleetWorker.Result here = FleetWorker.run(db, "jvm1", 6, Duration.ofSeconds(5), SEED);

    assertTrue(child.waitFor(120, TimeUnit.SECONDS), "the second JVM did not finish");
    assertEquals(0, child.exitValue(), Files.readString(dir.resolve("child.out")));
    FleetWorker.Result there = FleetWorker.read(journal);
    assertEquals(List.of(), here.errors());
    assertEquals(List.of(), there.errors());
    assertTrue(here.allocations() > 50 && there.allocations() > 50,
        here.allocations() + " and " + there.allocations() + " allocations");
    assertConsistent(List.of(here, there));
  }

  @Test
  void allocate_backendsKilledMidTransaction_everyAcknowledgedAllocationIsThere()
      throws Exception {
    int[] killed = {0};
    Thread killer = new Thread(() -> {
      for (int i = 0; i < 12; i++) {
        sleep(300);
        killed[0] += pg.terminateBackends();
      }
    });
    killer.start();

    FleetWorker.Result r = FleetWorker.run(db, "kill", 6, Duration.ofSeconds(4), SEED + 1);

    killer.join();
    assertTrue(killed[0] > 0, "no backend was killed");
    System.out.println(killed[0] + " backends killed");
    assertEquals(List.of(), r.errors());
    assertConsistent(List.of(r));
  }

  @Test
  void allocate_databaseRestartedMidRun_everyAcknowledgedAllocationIsThere() throws Exception {
    Thread restarter = new Thread(() -> {
      sleep(1_500);
      pg.restart();
    });
    restarter.start();

    FleetWorker.Result r = FleetWorker.run(db, "restart", 6, Duration.ofSeconds(5), SEED + 2);

    restarter.join();
    assertEquals(List.of(), r.errors());
    assertTrue(r.allocations() > 0);
    assertConsistent(List.of(r));
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private Process childJvm(String prefix, int threads, Duration duration, Path journal)
      throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    return new ProcessBuilder(List.of(java.toString(), "-cp",
        System.getProperty("java.class.path"), FleetWorker.class.getName(), schemaUrl, prefix,
        String.valueOf(threads), String.valueOf(duration.toMillis()), String.valueOf(SEED + 7),
        journal.toString()))
        .redirectErrorStream(true).redirectOutput(dir.resolve("child.out").toFile()).start();
  }

  /**
   * The tables against what the callers were told: every owner whose last acknowledged operation
   * was an allocation holds exactly that lease (host, epoch, GPUs), no other lease exists, no GPU
   * is held twice, and the tables keep every rule ({@link FleetAudit}).
   */
  private void assertConsistent(List<FleetWorker.Result> results) throws Exception {
    results.forEach(r -> System.out.println(r.allocations() + " allocations, " + r.releases()
        + " releases, " + r.refusals() + " refusals, p99 " + r.percentile(0.99) / 1_000 + " us"));
    Map<String, String> expected = new HashMap<>();
    for (FleetWorker.Result r : results) {
      for (String line : r.journal()) {
        String[] f = line.split(" ");
        if (f[0].equals("A")) {
          expected.put(f[1], f[2] + " " + f[3] + " " + f[4]);
        } else {
          expected.remove(f[1]);
        }
      }
    }
    Map<String, String> actual = new HashMap<>();
    Map<String, String> gpuHolders = new HashMap<>();
    for (FleetLease l : Fleet.open(db).leases()) {
      String gpus = String.join(",", l.gpus().stream().map(g -> g.address().toString()).toList());
      actual.put(l.owner(), l.epoch() + " " + l.host() + " " + gpus);
      for (InventoryGpu g : l.gpus()) {
        String before = gpuHolders.put(l.host() + "/" + g.address(), l.owner());
        assertEquals(null, before, l.host() + " " + g.address() + " held by " + before
            + " and " + l.owner());
      }
    }
    assertEquals(expected, actual, "seed " + SEED);
    assertEquals(List.of(), FleetAudit.problems(db), "seed " + SEED);
  }
}
