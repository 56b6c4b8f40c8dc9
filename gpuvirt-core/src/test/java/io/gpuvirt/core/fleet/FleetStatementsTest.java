package io.gpuvirt.core.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.fleet.testing.TestPostgres;
import io.gpuvirt.core.fleet.testing.UrlDataSource;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * How allocation and release use the database: the statements a pooled connection runs again
 * and again become server-side prepared statements (their SQL text does not change with the
 * request), and the host summaries the release function writes in SQL agree, after every step of
 * seeded random runs, with those the allocator computes in Java.
 */
final class FleetStatementsTest {
  private UrlDataSource schema;
  private HikariDataSource pool;

  @BeforeEach
  void database() {
    schema = TestPostgres.require().freshSchema();
    JdbcSchema.migrate(schema);
  }

  @AfterEach
  void close() {
    if (pool != null) {
      pool.close();
    }
  }

  @Test
  void allocateAndRelease_repeatedOnOneConnection_runAsServerPreparedStatements()
      throws SQLException {
    pool = Pools.hikari(schema.url(), 1); // one connection: every call below runs on it
    Fleet fleet = Fleet.open(pool);
    for (String host : List.of("hgx-1", "hgx-2")) {
      fleet.publish(Inventories.b200(host));
      fleet.heartbeat(host, Duration.ofMinutes(10));
    }
    int[] sizes = {1, 2, 4, 8};
    for (int i = 0; i < 12; i++) {
      fleet.allocate(FleetRequest.of("vm-" + i, sizes[i % sizes.length]));
      fleet.release("vm-" + i);
    }

    List<String> prepared = new ArrayList<>();
    try (Connection c = pool.getConnection(); Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT statement FROM pg_prepared_statements")) {
      while (r.next()) {
        prepared.add(r.getString(1));
      }
    }
    assertTrue(prepared.stream().anyMatch(q -> q.contains("FOR UPDATE SKIP LOCKED")),
        "the candidate query is not server-prepared: " + prepared);
    assertTrue(prepared.stream().anyMatch(q -> q.contains("INSERT INTO gpuvirt_fleet_lease")),
        "the take statement is not server-prepared: " + prepared);
    assertTrue(prepared.stream().anyMatch(q -> q.contains("gpuvirt_release(")),
        "the release call is not server-prepared: " + prepared);
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3})
  void allocateAndRelease_seededRandomRun_summariesAgreeWithTheRowsAfterEveryStep(long seed)
      throws SQLException {
    Fleet fleet = Fleet.open(schema);
    List<HostInventory> hosts = List.of(Inventories.b200("hgx-1"), Inventories.b200("hgx-2"),
        Inventories.plain("ws-1", 2, 3));
    for (HostInventory h : hosts) {
      fleet.publish(h);
      fleet.heartbeat(h.host(), Duration.ofMinutes(10));
    }
    SplittableRandom random = new SplittableRandom(seed);
    List<String> held = new ArrayList<>();
    int[] sizes = {1, 2, 4, 8};
    for (int step = 0; step < 60; step++) {
      String what;
      if (held.isEmpty() || random.nextBoolean()) {
        String owner = "vm-" + step;
        int size = sizes[random.nextInt(sizes.length)];
        what = "allocate " + size + " for " + owner;
        try {
          fleet.allocate(FleetRequest.of(owner, size));
          held.add(owner);
        } catch (AllocationRefusedException e) {
          what += " (refused)";
        }
      } else {
        String owner = held.remove(random.nextInt(held.size()));
        what = "release " + owner;
        fleet.release(owner);
      }
      assertEquals(List.of(), FleetAudit.problems(schema), "seed " + seed + ", step " + step
          + ": " + what);
    }
  }
}
