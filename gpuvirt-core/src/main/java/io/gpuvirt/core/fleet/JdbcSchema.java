package io.gpuvirt.core.fleet;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.OptionalInt;
import javax.sql.DataSource;

/**
 * gpuvirt's tables in PostgreSQL: versioned SQL scripts shipped in this jar as
 * {@code db/gpuvirt/V<version>__<description>.sql} (Flyway's naming: a platform that runs Flyway
 * points it at {@code classpath:db/gpuvirt} instead of calling {@link #migrate}). Each script
 * records its version in {@code gpuvirt_schema_version}; {@link #check} reads it and refuses a
 * database without the schema, behind it, or ahead of this gpuvirt.
 *
 * <pre>{@code
 * JdbcSchema.migrate(dataSource);   // once, at deployment; idempotent
 * Fleet fleet = Fleet.open(dataSource);
 * }</pre>
 */
public final class JdbcSchema {
  /** The schema version this gpuvirt reads and writes: {@value}. */
  public static final int VERSION = 3;
  /** The scripts, in order; script {@code i} brings the schema to version {@code i + 1}. */
  static final List<String> SCRIPTS = List.of("V1__leases_and_fleet.sql",
      "V2__mig_resources_and_host_order.sql", "V3__release_in_one_call.sql");
  /** Where the scripts are on the class path: {@value}. */
  public static final String LOCATION = "db/gpuvirt";
  /** Serializes migrations of one database (a transaction-scoped advisory lock). */
  private static final long MIGRATION_LOCK = 0x6770757669727401L;

  private JdbcSchema() {}

  /**
   * Brings the database to {@link #VERSION}, applying each script it lacks in one transaction (so
   * a failure leaves the previous version), under a lock so two processes migrating at once apply
   * each script once. Refuses, changing nothing, a database ahead of this gpuvirt.
   *
   * @return the version before the migration (0: no gpuvirt schema)
   * @throws SchemaVersionException when the database is ahead of this gpuvirt
   */
  public static int migrate(DataSource dataSource) {
    return Transactions.run(dataSource, "migrating the gpuvirt schema", c -> {
      try (Statement s = c.createStatement()) {
        s.execute("SELECT pg_advisory_xact_lock(" + MIGRATION_LOCK + ")");
      }
      int before = installed(c).orElse(0);
      if (before > VERSION) {
        throw newer(before);
      }
      for (int v = before + 1; v <= VERSION; v++) {
        try (Statement s = c.createStatement()) {
          s.execute(script(SCRIPTS.get(v - 1)));
        }
      }
      return before;
    });
  }

  /**
   * Checks that the database holds exactly this gpuvirt's schema version.
   *
   * @throws SchemaVersionException naming what was found and what to do
   */
  public static void check(DataSource dataSource) {
    int found = Transactions.run(dataSource, "reading the gpuvirt schema version",
        c -> installed(c).orElse(0));
    if (found == VERSION) {
      return;
    }
    if (found == 0) {
      throw new SchemaVersionException("the database holds no gpuvirt schema (no table "
          + "gpuvirt_schema_version); apply it with JdbcSchema.migrate(dataSource) or with Flyway "
          + "from classpath:" + LOCATION);
    }
    if (found > VERSION) {
      throw newer(found);
    }
    throw new SchemaVersionException("the database holds gpuvirt schema version " + found
        + ", older than version " + VERSION + " that this gpuvirt uses; apply the missing "
        + "scripts with JdbcSchema.migrate(dataSource) or Flyway (classpath:" + LOCATION + ")");
  }

  private static SchemaVersionException newer(int found) {
    return new SchemaVersionException("the database holds gpuvirt schema version " + found
        + ", written by a newer gpuvirt; this one uses version " + VERSION + " and will not touch "
        + "it. Upgrade gpuvirt on this host (never downgrade the schema: its leases keep two VMs "
        + "from sharing a GPU)");
  }

  /** The installed version, empty when there is no gpuvirt schema. */
  private static OptionalInt installed(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT to_regclass('gpuvirt_schema_version') IS NOT NULL")) {
      r.next();
      if (!r.getBoolean(1)) {
        return OptionalInt.empty();
      }
    }
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT max(version) FROM gpuvirt_schema_version")) {
      r.next();
      int v = r.getInt(1);
      return r.wasNull() ? OptionalInt.empty() : OptionalInt.of(v);
    }
  }

  /** The text of one script from the class path. */
  static String script(String name) {
    String path = "/" + LOCATION + "/" + name;
    try (InputStream in = JdbcSchema.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("gpuvirt's schema script " + path + " is missing from "
            + "the jar; the build is broken");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read gpuvirt's schema script " + path, e);
    }
  }
}
