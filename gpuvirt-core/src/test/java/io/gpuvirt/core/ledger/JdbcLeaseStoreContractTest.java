package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.fleet.JdbcLeaseStore;
import io.gpuvirt.core.fleet.JdbcSchema;
import io.gpuvirt.core.fleet.testing.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The store contract on PostgreSQL: the JDBC store, a real server (see {@link TestPostgres}). */
final class JdbcLeaseStoreContractTest extends LeaseStoreContract {
  private DataSource db;

  @BeforeEach
  void database() {
    db = TestPostgres.require().freshSchema();
    JdbcSchema.migrate(db);
  }

  @Override
  LeaseStore store() {
    return JdbcLeaseStore.open(db, "gpu-host-1");
  }

  @Test
  void transact_otherHostsLeases_areApart() {
    Lease lease = LeaseLedger.open(store(), CLOCK)
        .allocate(AllocationRequest.builder("vm-42").count(2).build(), host);

    LeaseLedger other = LeaseLedger.open(JdbcLeaseStore.open(db, "gpu-host-2"), CLOCK);
    Lease same = other.allocate(AllocationRequest.builder("vm-43").count(2).build(), host);

    assertEquals(lease.groupNumbers(), same.groupNumbers());
    assertEquals(1, other.leases().size());
  }

  @Test
  void read_rowThatIsNotALease_isRefusedNotDropped() throws Exception {
    store().transact(leases -> leases.size());
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      s.execute("INSERT INTO gpuvirt_host_lease (host_id, owner, lease) SELECT host_id, 'vm-9', "
          + "'{\"owner\":\"vm-9\"}'::jsonb FROM gpuvirt_host WHERE name = 'gpu-host-1'");
    }

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> store().read());

    assertEquals(true, e.getMessage().contains("vm-9"), e.getMessage());
  }
}
