package io.gpuvirt.core.fleet;

import io.gpuvirt.core.fleet.testing.TestPostgres;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class JdbcSchemaTest {
  private DataSource db;

  @BeforeEach
  void database() {
    db = TestPostgres.require().freshSchema();
  }

  @Test
  void migrate_emptyDatabase_appliesEveryScriptFromVersionZero() {
    assertEquals(0, JdbcSchema.migrate(db));

    JdbcSchema.check(db);
  }

  @Test
  void migrate_twice_changesNothingTheSecondTime() {
    JdbcSchema.migrate(db);

    assertEquals(JdbcSchema.VERSION, JdbcSchema.migrate(db));
  }

  @Test
  void migrate_version1Database_upgradesToTheCurrentVersionKeepingItsRows() throws Exception {
    sql(JdbcSchema.script("V1__leases_and_fleet.sql"));
    sql("INSERT INTO gpuvirt_host (name) VALUES ('h1')");

    assertEquals(1, JdbcSchema.migrate(db));

    JdbcSchema.check(db);
    assertEquals(1, count("SELECT count(*) FROM gpuvirt_host"));
  }

  @Test
  void check_noSchema_saysHowToApplyIt() {
    SchemaVersionException e = assertThrows(SchemaVersionException.class,
        () -> JdbcSchema.check(db));

    assertTrue(e.getMessage().contains("JdbcSchema.migrate") && e.getMessage().contains("Flyway"),
        e.getMessage());
  }

  @Test
  void check_newerSchema_isRefused() throws Exception {
    JdbcSchema.migrate(db);
    sql("INSERT INTO gpuvirt_schema_version (version, description) VALUES (" + (JdbcSchema.VERSION
        + 1) + ", 'from the future')");

    SchemaVersionException e = assertThrows(SchemaVersionException.class,
        () -> JdbcSchema.check(db));

    assertTrue(e.getMessage().contains("newer gpuvirt"), e.getMessage());
  }

  @Test
  void migrate_newerSchema_isRefusedAndChangesNothing() throws Exception {
    JdbcSchema.migrate(db);
    sql("INSERT INTO gpuvirt_schema_version (version, description) VALUES (" + (JdbcSchema.VERSION
        + 1) + ", 'from the future')");

    assertThrows(SchemaVersionException.class, () -> JdbcSchema.migrate(db));

    assertEquals(JdbcSchema.VERSION + 1, count("SELECT count(*) FROM gpuvirt_schema_version"));
  }

  @Test
  void openStore_newerSchema_isRefused() throws Exception {
    JdbcSchema.migrate(db);
    sql("INSERT INTO gpuvirt_schema_version (version, description) VALUES (" + (JdbcSchema.VERSION
        + 1) + ", 'from the future')");

    assertThrows(SchemaVersionException.class, () -> JdbcLeaseStore.open(db, "h1"));
  }

  @Test
  void schema_gpuRowWithBadAddress_isRefusedByItsCheck() throws Exception {
    JdbcSchema.migrate(db);
    sql("INSERT INTO gpuvirt_host (name) VALUES ('h1')");

    java.sql.SQLException e = assertThrows(java.sql.SQLException.class, () -> sql(
        "INSERT INTO gpuvirt_gpu (host_id, address, pci_id, model, numa_node, iommu_group) "
            + "SELECT host_id, '../../etc', '10de:2901', 'B200', 0, 1 FROM gpuvirt_host"));

    assertEquals("23514", e.getSQLState());
  }

  @Test
  void script_isNamedAsFlywayReadsIt() {
    for (String name : JdbcSchema.SCRIPTS) {
      assertTrue(name.matches("V[0-9]+__[a-z0-9_]+\\.sql"), name);
      assertTrue(JdbcSchema.script(name).contains("INSERT INTO gpuvirt_schema_version"), name);
    }
  }

  private void sql(String statement) throws Exception {
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      s.execute(statement);
    }
  }

  private int count(String query) throws Exception {
    try (Connection c = db.getConnection(); Statement s = c.createStatement();
        ResultSet r = s.executeQuery(query)) {
      r.next();
      return r.getInt(1);
    }
  }
}
