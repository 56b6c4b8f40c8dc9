package io.gpuvirt.core.fleet;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.ledger.LeaseJson;
import io.gpuvirt.core.ledger.LeaseStore;
import io.gpuvirt.core.ledger.LedgerException;
import io.gpuvirt.core.ledger.LedgerFormatException;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.sql.DataSource;

/**
 * The JDBC lease store: one host's leases as rows of {@code gpuvirt_host_lease} (each lease in the
 * JSON ledger's record form) with one row per resource it holds in
 * {@code gpuvirt_host_lease_resource}, unique per host (so the database itself refuses two leases
 * of one device, IOMMU group or vGPU). A transaction locks the host's row of {@code gpuvirt_host}
 * ({@code SELECT … FOR UPDATE}), the one lock of the host; the operation lock is a session
 * advisory lock keyed by the host.
 *
 * <pre>{@code
 * JdbcSchema.migrate(dataSource);
 * LeaseLedger ledger = LeaseLedger.open(JdbcLeaseStore.open(dataSource, "gpu-host-17"),
 *     Clock.systemUTC());
 * }</pre>
 *
 * <p>A transaction that fails for a transient reason (a lost connection, a restarted database) is
 * rolled back and run again; when a commit's outcome was unknown the rerun sees what the database
 * then holds. {@link io.gpuvirt.core.ledger.LeaseLedger}'s operations are idempotent by owner, so
 * this is safe for them; a caller's own {@code change} must be too.
 */
public final class JdbcLeaseStore implements LeaseStore {
  private static final int OPERATION_LOCK_CLASS = 0x67707576;

  private final DataSource dataSource;
  private final String host;
  private final long hostId;

  private JdbcLeaseStore(DataSource dataSource, String host, long hostId) {
    this.dataSource = dataSource;
    this.host = host;
    this.hostId = hostId;
  }

  /**
   * The store of {@code host}'s leases; adds the host's row to {@code gpuvirt_host} when there is
   * none yet (a host without published inventory is never chosen by fleet allocation).
   *
   * @throws SchemaVersionException when the database does not hold this gpuvirt's schema
   * @throws InvalidValueException when {@code host} is not a valid host name
   */
  public static JdbcLeaseStore open(DataSource dataSource, String host) {
    Objects.requireNonNull(dataSource, "dataSource");
    HostNames.check(host);
    JdbcSchema.check(dataSource);
    long id = Transactions.run(dataSource, "registering host " + host,
        c -> HostNames.ensureHost(c, host));
    return new JdbcLeaseStore(dataSource, host, id);
  }

  /** The host whose leases these are. */
  public String host() {
    return host;
  }

  @Override
  public String location() {
    return "table gpuvirt_host_lease, host " + host;
  }

  @Override
  public SortedMap<String, Lease> read() {
    return run("reading the leases of " + host, this::load);
  }

  @Override
  public <T> T transact(Function<TreeMap<String, Lease>, T> change) {
    Objects.requireNonNull(change, "change");
    return run("a lease transaction of " + host, c -> {
      try (PreparedStatement lock = c.prepareStatement(
          "SELECT 1 FROM gpuvirt_host WHERE host_id = ? FOR UPDATE")) {
        lock.setLong(1, hostId);
        try (ResultSet r = lock.executeQuery()) {
          if (!r.next()) {
            throw new LedgerException(Path.of(""), "host " + host + " has no row in gpuvirt_host"
                + " any more (it was removed while in use); open the store again");
          }
        }
      }
      TreeMap<String, Lease> leases = load(c);
      TreeMap<String, Lease> before = new TreeMap<>(leases);
      T result = change.apply(leases);
      if (!leases.equals(before)) {
        commitChanges(c, before, leases);
      }
      return result;
    });
  }

  @Override
  public <T> T underOperationLock(Supplier<T> work) {
    Objects.requireNonNull(work, "work");
    try (Connection c = dataSource.getConnection()) {
      try (PreparedStatement s = c.prepareStatement("SELECT pg_advisory_lock(?, ?)")) {
        s.setInt(1, OPERATION_LOCK_CLASS);
        s.setInt(2, (int) hostId);
        s.execute();
      }
      try {
        return work.get();
      } finally {
        try (PreparedStatement s = c.prepareStatement("SELECT pg_advisory_unlock(?, ?)")) {
          s.setInt(1, OPERATION_LOCK_CLASS);
          s.setInt(2, (int) hostId);
          s.execute();
        } catch (SQLException e) {
          // the session is gone, and its advisory lock with it
        }
      }
    } catch (SQLException e) {
      throw new LedgerException(Path.of(""), "cannot take the operation lock of host " + host
          + " in the fleet database (" + e.getMessage() + "); check that it is reachable", e);
    }
  }

  private TreeMap<String, Lease> load(Connection c) throws SQLException {
    TreeMap<String, Lease> leases = new TreeMap<>();
    try (PreparedStatement s = c.prepareStatement(
        "SELECT owner, lease::text FROM gpuvirt_host_lease WHERE host_id = ? ORDER BY owner")) {
      s.setLong(1, hostId);
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          String owner = r.getString(1);
          Lease lease;
          try {
            lease = LeaseJson.parse(r.getString(2));
          } catch (InvalidValueException e) {
            throw new LedgerFormatException(Path.of(""), "the lease of " + owner + " on host "
                + host + " in gpuvirt_host_lease is invalid: " + e.getMessage() + ". gpuvirt will"
                + " not drop it; repair the row by hand (it names the lease's devices)", e);
          }
          if (!lease.owner().equals(owner)) {
            throw new LedgerFormatException(Path.of(""), "the row of " + owner + " on host " + host
                + " in gpuvirt_host_lease holds the lease of " + lease.owner() + "; repair it");
          }
          leases.put(owner, lease);
        }
      }
    }
    return leases;
  }

  private void commitChanges(Connection c, Map<String, Lease> before, Map<String, Lease> after)
      throws SQLException {
    try (PreparedStatement delete = c.prepareStatement(
        "DELETE FROM gpuvirt_host_lease WHERE host_id = ? AND owner = ?")) {
      for (Map.Entry<String, Lease> e : before.entrySet()) {
        if (!e.getValue().equals(after.get(e.getKey()))) {
          delete.setLong(1, hostId);
          delete.setString(2, e.getKey());
          delete.addBatch();
        }
      }
      delete.executeBatch();
    }
    try (PreparedStatement insert = c.prepareStatement(
            "INSERT INTO gpuvirt_host_lease (host_id, owner, lease) VALUES (?, ?, ?::jsonb)");
        PreparedStatement resource = c.prepareStatement("INSERT INTO gpuvirt_host_lease_resource"
            + " (host_id, resource, owner) VALUES (?, ?, ?)")) {
      boolean any = false;
      for (Map.Entry<String, Lease> e : after.entrySet()) {
        if (e.getValue().equals(before.get(e.getKey()))) {
          continue;
        }
        if (!e.getValue().owner().equals(e.getKey())) {
          throw new InvalidValueException("the lease of " + e.getValue().owner()
              + " was put under owner " + e.getKey());
        }
        any = true;
        insert.setLong(1, hostId);
        insert.setString(2, e.getKey());
        insert.setString(3, LeaseJson.of(e.getValue()));
        insert.addBatch();
        for (String r : resources(e.getValue())) {
          resource.setLong(1, hostId);
          resource.setString(2, r);
          resource.setString(3, e.getKey());
          resource.addBatch();
        }
      }
      if (any) {
        insert.executeBatch();
        try {
          resource.executeBatch();
        } catch (SQLException e) {
          if (isUniqueViolation(e)) {
            throw new LedgerException(Path.of(""), "refusing to store the leases of host " + host
                + ": two leases hold one resource (" + e.getMessage() + "); nothing was stored",
                e);
          }
          throw e;
        }
      }
    }
  }

  private static boolean isUniqueViolation(SQLException e) {
    for (SQLException s = e; s != null; s = s.getNextException()) {
      if ("23505".equals(s.getSQLState())) {
        return true;
      }
    }
    return false;
  }

  /** What a lease holds, as the keys unique per host: devices, IOMMU groups, vGPUs, MIG instances. */
  static TreeSet<String> resources(Lease lease) {
    TreeSet<String> keys = new TreeSet<>();
    for (LeasedGroup g : lease.groups()) {
      keys.add("iommu-group:" + g.number());
      for (LeasedDevice d : g.devices()) {
        keys.add("pci:" + d.address());
      }
    }
    for (VgpuAssignment v : lease.vgpus()) {
      keys.add("vgpu:" + v.sysfsPath());
      v.vf().ifPresent(vf -> keys.add("pci:" + vf));
    }
    lease.migs().forEach(m -> keys.add("mig:" + m.key()));
    return keys;
  }

  private <T> T run(String what, Transactions.Work<T> work) {
    try {
      return Transactions.run(dataSource, what, work);
    } catch (FleetException e) {
      throw new LedgerException(Path.of(""), e.getMessage(), e);
    }
  }
}
