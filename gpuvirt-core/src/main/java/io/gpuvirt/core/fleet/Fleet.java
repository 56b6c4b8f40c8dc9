package io.gpuvirt.core.fleet;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import javax.sql.DataSource;

/**
 * GPUs across many hosts in one PostgreSQL database: hosts publish their inventory and beat; the
 * control plane allocates and releases; each host's agent provisions what it was assigned,
 * presenting the lease's epoch.
 *
 * <pre>{@code
 * Fleet fleet = Fleet.open(dataSource);                     // schema checked
 * fleet.publish(HostInventory.of("gpu-17", topology, names, moduleIds, partitions));
 * fleet.heartbeat("gpu-17", Duration.ofSeconds(30));
 * FleetLease lease = fleet.allocate(FleetRequest.of("vm-42", 4));   // host and GPUs, epoch
 * // on gpu-17, the agent: fleet.fence("gpu-17", "vm-42", lease.epoch()), provision, then
 * fleet.report("gpu-17", "vm-42", lease.epoch(), FleetLease.State.PROVISIONED);
 * fleet.release("vm-42");
 * }</pre>
 *
 * <p><b>Allocation</b> is one READ COMMITTED transaction with compare-and-set, as Ubicloud does
 * it: find a live host that can serve the size (its summary row, fullest first, ties by id, read
 * from an index so a thousand hosts cost what ten do), lock that row with {@code FOR UPDATE SKIP
 * LOCKED} (so concurrent allocators take different hosts instead of queueing), choose the GPUs with the single-host rules ({@link HostState}), then
 * {@code UPDATE gpuvirt_gpu SET owner = ? … WHERE … AND owner IS NULL}, whose row count must equal
 * the request, and the same for the partition; anything else rolls back and retries (bounded).
 * Idempotent by owner: allocating again for an owner returns its lease. Constraints in the
 * schema back it: a GPU or partition can only be held by a lease row of its own host and epoch.
 *
 * <p><b>Liveness</b>: a host past its heartbeat deadline is never allocated; {@link #markLost}
 * records it as lost. Its leases are kept: releasing them is the platform's decision.
 *
 * <p><b>Failures</b>: a transaction cut off by a lost connection, a restarted database or a
 * statement timeout is rolled back by PostgreSQL and run again here; an allocation whose commit
 * was acknowledged is durable (synchronous commit), and one whose outcome was unknown is found by
 * its rerun (idempotent by owner).
 */
public final class Fleet {
  private final DataSource dataSource;

  private Fleet(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  /**
   * The fleet in {@code dataSource}'s database.
   *
   * @throws SchemaVersionException when the database does not hold this gpuvirt's schema
   */
  public static Fleet open(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "dataSource");
    JdbcSchema.check(dataSource);
    return new Fleet(dataSource);
  }

  // ---- inventory and liveness ----------------------------------------------------------------

  /**
   * Publishes (or re-publishes) a host's inventory. An unchanged inventory changes nothing; a
   * changed one replaces the host's rows: new GPUs and partitions are added, changed ones updated,
   * free ones no longer there removed. A leased GPU or partition is kept as it is until its lease
   * is released (its owner is named in the result).
   *
   * @return what the publication did
   */
  public PublishResult publish(HostInventory inventory) {
    HostInventory.requireNonNull(inventory);
    String digest = inventory.digest();
    return Transactions.run(dataSource, "publishing the inventory of " + inventory.host(), c -> {
      long hostId = HostNames.ensureHost(c, inventory.host());
      try (PreparedStatement q = c.prepareStatement(
          "SELECT inventory_digest FROM gpuvirt_host WHERE host_id = ? FOR UPDATE")) {
        q.setLong(1, hostId);
        try (ResultSet r = q.executeQuery()) {
          r.next();
          if (digest.equals(r.getString(1))) {
            return new PublishResult(inventory.host(), false, List.of());
          }
        }
      }
      HostState before = HostState.load(c, hostId, inventory.host());
      List<String> kept = new ArrayList<>();
      Set<PciAddress> now = new HashSet<>();
      inventory.gpus().forEach(g -> now.add(g.address()));
      try (PreparedStatement del = c.prepareStatement(
          "DELETE FROM gpuvirt_gpu WHERE host_id = ? AND address = ? AND owner IS NULL")) {
        for (PciAddress a : before.gpus.keySet()) {
          if (!now.contains(a)) {
            if (before.gpuOwners.containsKey(a)) {
              kept.add("GPU " + a + " (leased to " + before.gpuOwners.get(a) + ")");
            } else {
              del.setLong(1, hostId);
              del.setString(2, a.toString());
              del.addBatch();
            }
          }
        }
        del.executeBatch();
      }
      try (PreparedStatement up = c.prepareStatement("INSERT INTO gpuvirt_gpu (host_id, "
          + "address, pci_id, model, numa_node, iommu_group, module_id) VALUES (?, ?, ?, ?, ?, ?, "
          + "?) ON CONFLICT (host_id, address) DO UPDATE SET pci_id = excluded.pci_id, model = "
          + "excluded.model, numa_node = excluded.numa_node, iommu_group = excluded.iommu_group, "
          + "module_id = excluded.module_id")) {
        for (InventoryGpu g : inventory.gpus()) {
          up.setLong(1, hostId);
          up.setString(2, g.address().toString());
          up.setString(3, g.id().toString());
          up.setString(4, g.model());
          up.setInt(5, g.numaNode());
          up.setInt(6, g.iommuGroup());
          if (g.moduleId().isPresent()) {
            up.setInt(7, g.moduleId().getAsInt());
          } else {
            up.setNull(7, java.sql.Types.INTEGER);
          }
          up.addBatch();
        }
        up.executeBatch();
      }
      Set<Integer> ids = new HashSet<>();
      inventory.partitions().forEach(p -> ids.add(p.id()));
      try (PreparedStatement del = c.prepareStatement("DELETE FROM gpuvirt_partition WHERE "
          + "host_id = ? AND partition_id = ? AND owner IS NULL")) {
        for (int id : before.partitions.keySet()) {
          if (!ids.contains(id)) {
            if (before.partitionOwners.containsKey(id)) {
              kept.add("partition " + id + " (leased to " + before.partitionOwners.get(id) + ")");
            } else {
              del.setLong(1, hostId);
              del.setInt(2, id);
              del.addBatch();
            }
          }
        }
        del.executeBatch();
      }
      try (PreparedStatement up = c.prepareStatement("INSERT INTO gpuvirt_partition (host_id, "
          + "partition_id, gpu_count, module_ids) VALUES (?, ?, ?, ?) ON CONFLICT (host_id, "
          + "partition_id) DO UPDATE SET gpu_count = excluded.gpu_count, module_ids = "
          + "excluded.module_ids WHERE gpuvirt_partition.owner IS NULL")) {
        for (FabricPartition p : inventory.partitions()) {
          up.setLong(1, hostId);
          up.setInt(2, p.id());
          up.setInt(3, p.size());
          up.setArray(4, c.createArrayOf("integer", p.moduleIds().toArray()));
          up.addBatch();
        }
        up.executeBatch();
      }
      HostState after = HostState.load(c, hostId, inventory.host());
      after.writeSummary(c);
      try (PreparedStatement u = c.prepareStatement(
          "UPDATE gpuvirt_host SET inventory_digest = ? WHERE host_id = ?")) {
        u.setString(1, kept.isEmpty() ? digest : "");
        u.setLong(2, hostId);
        u.executeUpdate();
      }
      return new PublishResult(inventory.host(), true, kept);
    });
  }

  /**
   * What {@link #publish} did.
   *
   * @param changed whether the stored inventory changed
   * @param keptLeased leased GPUs and partitions the new inventory lacks, kept until released
   */
  public record PublishResult(String host, boolean changed, List<String> keptLeased) {
    public PublishResult {
      keptLeased = List.copyOf(keptLeased);
    }
  }

  /**
   * Records that {@code host} is alive; it is allocatable until {@code deadline} from now (and no
   * longer lost).
   *
   * @throws HostNotRegisteredException when the host has not published an inventory
   */
  public void heartbeat(String host, Duration deadline) {
    HostNames.check(host);
    if (deadline.isNegative() || deadline.isZero()) {
      throw new io.gpuvirt.core.InvalidValueException("a heartbeat deadline must be positive, was "
          + deadline);
    }
    int rows = Transactions.run(dataSource, "the heartbeat of " + host, c -> {
      try (PreparedStatement u = c.prepareStatement("UPDATE gpuvirt_host SET heartbeat_at = "
          + "now(), heartbeat_deadline = now() + ? * interval '1 millisecond', lost = false "
          + "WHERE name = ?")) {
        u.setLong(1, deadline.toMillis());
        u.setString(2, host);
        return u.executeUpdate();
      }
    });
    if (rows == 0) {
      throw new HostNotRegisteredException("host " + host + " is not in the fleet; publish its "
          + "inventory first (gpuvirt fleet register)");
    }
  }

  /**
   * Marks every host past its heartbeat deadline as lost (they were already never allocated);
   * their leases are kept.
   *
   * @return the hosts marked now, sorted
   */
  public List<String> markLost() {
    return Transactions.run(dataSource, "marking hosts lost", c -> {
      List<String> marked = new ArrayList<>();
      try (PreparedStatement u = c.prepareStatement("UPDATE gpuvirt_host SET lost = true WHERE "
          + "host_id IN (SELECT host_id FROM gpuvirt_host WHERE NOT lost AND (heartbeat_deadline "
          + "IS NULL OR heartbeat_deadline < now()) FOR UPDATE SKIP LOCKED) RETURNING name")) {
        try (ResultSet r = u.executeQuery()) {
          while (r.next()) {
            marked.add(r.getString(1));
          }
        }
      }
      marked.sort(null);
      return marked;
    });
  }

  /**
   * Removes a host from the fleet (decommissioned, or re-installed under another name): its GPUs,
   * partitions and row. Refused while any fleet lease or host-ledger lease is on it: release
   * those first. Idempotent: a host not in the fleet changes nothing.
   *
   * @return whether the host was in the fleet
   * @throws HostHoldsLeasesException naming the leases that keep the host
   */
  public boolean remove(String host) {
    HostNames.check(host);
    return Transactions.run(dataSource, "removing host " + host, c -> {
      long hostId;
      try (PreparedStatement q = c.prepareStatement(
          "SELECT host_id FROM gpuvirt_host WHERE name = ? FOR UPDATE")) {
        q.setString(1, host);
        try (ResultSet r = q.executeQuery()) {
          if (!r.next()) {
            return false;
          }
          hostId = r.getLong(1);
        }
      }
      List<String> held = new ArrayList<>();
      try (PreparedStatement q = c.prepareStatement("SELECT owner FROM gpuvirt_fleet_lease WHERE "
          + "host_id = ? UNION SELECT owner FROM gpuvirt_host_lease WHERE host_id = ? ORDER BY 1")) {
        q.setLong(1, hostId);
        q.setLong(2, hostId);
        try (ResultSet r = q.executeQuery()) {
          while (r.next()) {
            held.add(r.getString(1));
          }
        }
      }
      if (!held.isEmpty()) {
        throw new HostHoldsLeasesException("refusing to remove host " + host + " from the "
            + "fleet: it holds the leases of " + String.join(", ", held) + "; release them "
            + "(gpuvirt fleet release --owner ID) and let its agent tear them down first");
      }
      for (String table : List.of("gpuvirt_gpu", "gpuvirt_partition", "gpuvirt_host")) {
        try (PreparedStatement d = c.prepareStatement("DELETE FROM " + table
            + " WHERE host_id = ?")) {
          d.setLong(1, hostId);
          d.executeUpdate();
        }
      }
      return true;
    });
  }

  /** Every host, sorted by name. */
  public List<FleetHost> hosts() {
    return Transactions.run(dataSource, "listing the fleet's hosts", c -> {
      List<FleetHost> hosts = new ArrayList<>();
      try (PreparedStatement q = c.prepareStatement("SELECT h.name, h.heartbeat_at, "
          + "h.heartbeat_deadline, h.lost OR h.heartbeat_deadline IS NULL OR "
          + "h.heartbeat_deadline < now(), (SELECT count(*) FROM gpuvirt_gpu g WHERE g.host_id = "
          + "h.host_id), h.free_gpus, (SELECT count(*) FROM gpuvirt_partition p WHERE p.host_id "
          + "= h.host_id), h.free_sizes FROM gpuvirt_host h ORDER BY h.name");
          ResultSet r = q.executeQuery()) {
        while (r.next()) {
          List<Integer> sizes = new ArrayList<>();
          for (Object o : (Object[]) r.getArray(8).getArray()) {
            sizes.add(((Number) o).intValue());
          }
          hosts.add(new FleetHost(r.getString(1), instant(r.getTimestamp(2)),
              instant(r.getTimestamp(3)), r.getBoolean(4), r.getInt(5), r.getInt(6), r.getInt(7),
              sizes));
        }
      }
      return hosts;
    });
  }

  // ---- allocation ----------------------------------------------------------------------------

  /**
   * Allocates for {@code request.owner()} on some live host, or returns the owner's lease when it
   * holds one of the same size (idempotent by owner).
   *
   * @throws AllocationRefusedException when no live host can serve the request (naming how many
   *     hosts are live and what they have free), or the owner holds a lease of another size
   * @throws FleetException when the database stays unreachable
   */
  public FleetLease allocate(FleetRequest request) {
    Objects.requireNonNull(request, "request");
    Set<Long> unsuitable = new HashSet<>();
    return Transactions.run(dataSource, "allocating " + request.count() + " GPUs for "
        + request.owner(), c -> {
      for (int hostTries = 0; hostTries < 64; hostTries++) {
        Optional<HostState> candidate = lockCandidate(c, request, unsuitable);
        if (candidate.isEmpty()) {
          // the candidate query locks nothing while the owner holds a lease: is that why?
          Optional<FleetLease> existing = lease(c, request.owner());
          if (existing.isPresent()) {
            if (existing.get().gpuCount() == request.count()) {
              return existing.get();
            }
            throw new AllocationRefusedException(request.owner(), request.owner() + " already "
                + "holds a fleet lease of " + existing.get().gpuCount() + " GPUs on "
                + existing.get().host() + " (epoch " + existing.get().epoch() + "); release it "
                + "first");
          }
          if (anyCandidate(c, request, unsuitable)) {
            throw new Transactions.Conflict("every host that fits is being allocated by others");
          }
          throw refusal(c, request);
        }
        HostState host = candidate.get();
        Optional<HostState.Choice> choice = host.choose(request);
        if (choice.isEmpty()) {
          unsuitable.add(host.hostId); // e.g. free GPUs of another model only
          continue;
        }
        return take(c, host, choice.get(), request);
      }
      throw refusal(c, request);
    });
  }

  /**
   * The live hosts that may serve {@code request} (other than {@code unsuitable}), by their
   * summary row and, for a model or NUMA constraint, their free GPUs; {@code tail} orders, limits
   * and locks. With {@code unheldBy} none while that owner holds a fleet lease.
   */
  private static PreparedStatement candidates(Connection c, FleetRequest request,
      Set<Long> unsuitable, String columns, String tail, Optional<String> unheldBy,
      java.util.function.UnaryOperator<String> wrap) throws SQLException {
    StringBuilder sql = new StringBuilder("SELECT ").append(columns).append(" FROM gpuvirt_host h "
        + "WHERE NOT lost AND heartbeat_deadline > now() AND ? = ANY (free_sizes) "
        + "AND NOT (host_id = ANY (?)) ");
    if (!request.hosts().isEmpty()) {
      sql.append("AND name = ANY (?) ");
    }
    if (request.model().isPresent() || request.numaNode().isPresent()) {
      // enough free GPUs of the model / on the node (partitions are checked on the locked host)
      sql.append("AND (SELECT count(*) FROM gpuvirt_gpu g WHERE g.host_id = h.host_id AND "
          + "g.owner IS NULL")
          .append(request.model().isPresent() ? " AND g.pci_id = ?" : "")
          .append(request.numaNode().isPresent() ? " AND g.numa_node = ?" : "")
          .append(") >= ? ");
    }
    if (unheldBy.isPresent()) {
      sql.append("AND NOT EXISTS (SELECT 1 FROM gpuvirt_fleet_lease l WHERE l.owner = ?) ");
    }
    sql.append(tail);
    PreparedStatement q = c.prepareStatement(wrap.apply(sql.toString()));
    try {
      int next = bindCandidates(c, q, request, unsuitable);
      if (unheldBy.isPresent()) {
        q.setString(next, unheldBy.get());
      }
    } catch (SQLException | RuntimeException e) {
      q.close();
      throw e;
    }
    return q;
  }

  /** Binds the candidate query's parameters; returns the index of the next one. */
  private static int bindCandidates(Connection c, PreparedStatement q, FleetRequest request,
      Set<Long> unsuitable) throws SQLException {
    int i = 1;
    q.setInt(i++, request.count());
    q.setArray(i++, c.createArrayOf("bigint", unsuitable.toArray()));
    if (!request.hosts().isEmpty()) {
      q.setArray(i++, c.createArrayOf("text", request.hosts().toArray()));
    }
    if (request.model().isPresent() || request.numaNode().isPresent()) {
      if (request.model().isPresent()) {
        q.setString(i++, request.model().get().toString());
      }
      if (request.numaNode().isPresent()) {
        q.setInt(i++, request.numaNode().getAsInt());
      }
      q.setInt(i++, request.count());
    }
    return i;
  }

  /**
   * Locks the fullest live host that fits and reads its GPUs and partitions, in one statement
   * (one round trip); nothing when none fits or the owner already holds a fleet lease.
   *
   * <p>Under READ COMMITTED the GPU and partition rows such a statement reads come from the
   * snapshot taken when it began, while {@code FOR UPDATE} locks the host row's latest version:
   * an allocation or release that committed on the host in between would be missed. Every
   * transaction that changes a host's GPUs or partitions holds its row's lock and rewrites the
   * row (its summary), so the statement also reads the host row's {@code xmin} as its snapshot
   * saw it: equal to the locked version's, no such change committed in between and the rows read
   * are current; otherwise they are read again in a statement of their own, whose snapshot is
   * taken after the lock.
   */
  private static Optional<HostState> lockCandidate(Connection c, FleetRequest request,
      Set<Long> unsuitable) throws SQLException {
    HostState state;
    try (PreparedStatement q = candidates(c, request, unsuitable, "h.host_id, h.name, h.xmin = "
        + "(SELECT x.xmin FROM gpuvirt_host x WHERE x.host_id = h.host_id) AS fresh",
        "ORDER BY free_gpus, host_id LIMIT 1 FOR UPDATE SKIP LOCKED",
        Optional.of(request.owner()), HostState::loading);
        ResultSet r = q.executeQuery()) {
      List<HostState> found = HostState.read(r);
      if (found.isEmpty()) {
        return Optional.empty();
      }
      state = found.get(0);
    }
    return Optional.of(state.fresh ? state : HostState.load(c, state.hostId, state.name));
  }

  private static boolean anyCandidate(Connection c, FleetRequest request, Set<Long> unsuitable)
      throws SQLException {
    try (PreparedStatement q = candidates(c, request, unsuitable, "1", "LIMIT 1",
        Optional.empty(), sql -> sql);
        ResultSet r = q.executeQuery()) {
      return r.next();
    }
  }

  private static AllocationRefusedException refusal(Connection c, FleetRequest request)
      throws SQLException {
    try (PreparedStatement q = c.prepareStatement("SELECT count(*), count(*) FILTER (WHERE NOT "
        + "lost AND heartbeat_deadline > now()), coalesce(sum(free_gpus) FILTER (WHERE NOT lost "
        + "AND heartbeat_deadline > now()), 0) FROM gpuvirt_host");
        ResultSet r = q.executeQuery()) {
      r.next();
      return new AllocationRefusedException(request.owner(), "cannot allocate "
          + request.count() + " GPUs" + request.constraints() + " for " + request.owner()
          + ": no live host" + (request.hosts().isEmpty() ? "" : " of those") + " has a free "
          + "partition of that size or that many free GPUs" + (request.model().isPresent()
              || request.numaNode().isPresent() ? " matching" : "") + " (" + r.getLong(2) + " of " + r.getLong(1) + " hosts live, "
          + r.getLong(3) + " GPUs free on them); nothing was changed. Release a lease, or add "
          + "or revive hosts");
    }
  }

  private static FleetLease take(Connection c, HostState host, HostState.Choice choice,
      FleetRequest request) throws SQLException {
    host.take(choice, request.owner());
    Object[] summary = host.summary(c);
    // one statement: the lease row with its new epoch, then compare-and-set on the GPUs and the
    // partition (each must still be free), and the host's summary
    try (PreparedStatement q = c.prepareStatement("WITH l AS (INSERT INTO gpuvirt_fleet_lease "
        + "(owner, host_id, epoch, gpu_count, partition_id, state) VALUES (?, ?, "
        + "nextval('gpuvirt_lease_epoch'), ?, ?, 'ASSIGNED') ON CONFLICT (owner) DO NOTHING "
        + "RETURNING epoch, created_at), "
        + "g AS (UPDATE gpuvirt_gpu SET owner = ?, epoch = (SELECT epoch FROM l) WHERE host_id = "
        + "? AND address = ANY (?) AND owner IS NULL AND EXISTS (SELECT 1 FROM l) RETURNING 1), "
        + "p AS (UPDATE gpuvirt_partition SET owner = ?, epoch = (SELECT epoch FROM l) WHERE "
        + "host_id = ? AND partition_id = ? AND owner IS NULL AND EXISTS (SELECT 1 FROM l) "
        + "RETURNING 1), "
        + "s AS (UPDATE gpuvirt_host SET free_gpus = ?, free_sizes = ? WHERE host_id = ? AND "
        + "EXISTS (SELECT 1 FROM l) RETURNING 1) "
        + "SELECT (SELECT epoch FROM l), (SELECT created_at FROM l), (SELECT count(*) FROM g), "
        + "(SELECT count(*) FROM p), (SELECT count(*) FROM s)")) {
      int i = 1;
      q.setString(i++, request.owner());
      q.setLong(i++, host.hostId);
      q.setInt(i++, request.count());
      if (choice.partitionId().isPresent()) {
        q.setInt(i++, choice.partitionId().getAsInt());
      } else {
        q.setNull(i++, java.sql.Types.INTEGER);
      }
      q.setString(i++, request.owner());
      q.setLong(i++, host.hostId);
      q.setArray(i++, c.createArrayOf("text",
          choice.gpus().stream().map(g -> g.address().toString()).toArray()));
      q.setString(i++, request.owner());
      q.setLong(i++, host.hostId);
      if (choice.partitionId().isPresent()) {
        q.setInt(i++, choice.partitionId().getAsInt());
      } else {
        q.setNull(i++, java.sql.Types.INTEGER);
      }
      q.setInt(i++, (Integer) summary[0]);
      q.setArray(i++, (java.sql.Array) summary[1]);
      q.setLong(i, host.hostId);
      try (ResultSet r = q.executeQuery()) {
        r.next();
        long epoch = r.getLong(1);
        if (r.wasNull()) {
          throw new Transactions.Conflict(request.owner() + " was allocated concurrently");
        }
        Instant created = r.getTimestamp(2).toInstant();
        long gpus = r.getLong(3);
        long partitions = r.getLong(4);
        if (gpus != choice.gpus().size()) {
          throw new Transactions.Conflict("took " + gpus + " of " + choice.gpus().size()
              + " GPUs on " + host.name);
        }
        if (partitions != (choice.partitionId().isPresent() ? 1 : 0)) {
          throw new Transactions.Conflict("partition " + choice.partitionId().getAsInt()
              + " on " + host.name + " was taken");
        }
        return new FleetLease(request.owner(), host.name, epoch, request.count(),
            choice.partitionId(), choice.gpus(), FleetLease.State.ASSIGNED, created);
      }
    }
  }

  /**
   * Releases the owner's fleet lease (the control plane's decision, whatever its epoch).
   * Idempotent: an owner without a lease changes nothing.
   *
   * @return the lease released
   */
  public Optional<FleetLease> release(String owner) {
    AllocationRequest.checkOwner(owner);
    return Transactions.single(dataSource, "releasing the fleet lease of " + owner,
        c -> release(c, owner, OptionalLong.empty(), Optional.empty()));
  }

  /**
   * Releases the owner's lease on behalf of {@code host}'s agent, after its teardown: only while
   * the lease is still {@code host}'s with {@code epoch}.
   *
   * @throws StaleEpochException when the lease was released or moved since
   */
  public FleetLease releaseFenced(String host, String owner, long epoch) {
    HostNames.check(host);
    AllocationRequest.checkOwner(owner);
    return Transactions.single(dataSource, "releasing the fleet lease of " + owner + " for "
        + host, c -> release(c, owner, OptionalLong.of(epoch), Optional.of(host))
            .orElseThrow(() -> stale(c, host, owner, epoch)));
  }

  /**
   * One call of the schema's {@code gpuvirt_release} (V3): it reads the lease, locks its host row
   * (as allocation does: no deadlock), and only then, each statement with a snapshot taken after
   * the lock, deletes the lease, frees its GPUs and partition and rewrites the host's summary. One
   * round trip, and in autocommit mode no COMMIT of its own; a lease that changed between the read
   * and the lock is SQLSTATE 40001, run again by {@link Transactions}.
   */
  private static Optional<FleetLease> release(Connection c, String owner, OptionalLong epoch,
      Optional<String> host) throws SQLException {
    try (PreparedStatement q = c.prepareStatement("SELECT * FROM gpuvirt_release(?, ?, ?)")) {
      q.setString(1, owner);
      if (epoch.isPresent()) {
        q.setLong(2, epoch.getAsLong());
      } else {
        q.setNull(2, java.sql.Types.BIGINT);
      }
      q.setString(3, host.orElse(null));
      try (ResultSet r = q.executeQuery()) {
        List<FleetLease> released = leases(r);
        return released.isEmpty() ? Optional.empty() : Optional.of(released.get(0));
      }
    }
  }

  // ---- leases and the host agent's fence -----------------------------------------------------

  /** The owner's fleet lease, if it holds one. */
  public Optional<FleetLease> lease(String owner) {
    AllocationRequest.checkOwner(owner);
    return Transactions.run(dataSource, "reading the fleet lease of " + owner,
        c -> lease(c, owner));
  }

  /** Every fleet lease, sorted by owner. */
  public List<FleetLease> leases() {
    return Transactions.run(dataSource, "listing fleet leases", c -> leases(c, Optional.empty()));
  }

  /** The leases assigned to {@code host}, sorted by owner: what its agent should provision. */
  public List<FleetLease> assignments(String host) {
    HostNames.check(host);
    return Transactions.run(dataSource, "listing the leases of " + host,
        c -> leases(c, Optional.of(host)));
  }

  /**
   * Checks, before {@code host}'s agent provisions or tears down {@code owner}'s devices, that the
   * lease is still {@code host}'s with {@code epoch}.
   *
   * @return the lease
   * @throws StaleEpochException when it was released or moved (the agent must not act)
   */
  public FleetLease fence(String host, String owner, long epoch) {
    HostNames.check(host);
    AllocationRequest.checkOwner(owner);
    return Transactions.run(dataSource, "checking the epoch of " + owner + " on " + host, c -> {
      Optional<FleetLease> lease = lease(c, owner);
      if (lease.isPresent() && lease.get().epoch() == epoch && lease.get().host().equals(host)) {
        return lease.get();
      }
      throw stale(c, host, owner, epoch);
    });
  }

  /**
   * Records what {@code host}'s agent did with {@code owner}'s lease of {@code epoch}.
   *
   * @throws StaleEpochException when the lease was released or moved (nothing is recorded)
   */
  public FleetLease report(String host, String owner, long epoch, FleetLease.State state) {
    HostNames.check(host);
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(state, "state");
    return Transactions.run(dataSource, "recording " + state + " for " + owner + " on " + host,
        c -> {
          try (PreparedStatement u = c.prepareStatement("UPDATE gpuvirt_fleet_lease SET state = "
              + "?, updated_at = now() WHERE owner = ? AND epoch = ? AND host_id = (SELECT host_id"
              + " FROM gpuvirt_host WHERE name = ?)")) {
            u.setString(1, state.name());
            u.setString(2, owner);
            u.setLong(3, epoch);
            u.setString(4, host);
            if (u.executeUpdate() != 1) {
              throw stale(c, host, owner, epoch);
            }
          }
          return lease(c, owner).orElseThrow();
        });
  }

  private static StaleEpochException stale(Connection c, String host, String owner, long epoch) {
    String now;
    try {
      now = lease(c, owner).map(l -> "it is now held on " + l.host() + " with epoch " + l.epoch())
          .orElse("it was released");
    } catch (SQLException e) {
      now = "its current state could not be read";
    }
    return new StaleEpochException("refusing " + host + "'s action on the lease of " + owner
        + " with epoch " + epoch + ": " + now + ". The agent must not touch its devices for "
        + "this lease; re-read its assignments");
  }

  private static Optional<FleetLease> lease(Connection c, String owner) throws SQLException {
    List<FleetLease> found = query(c, "WHERE l.owner = ?", owner);
    return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
  }

  private static List<FleetLease> leases(Connection c, Optional<String> host)
      throws SQLException {
    return host.isPresent() ? query(c, "WHERE h.name = ?", host.get()) : query(c, "", null);
  }

  private static List<FleetLease> query(Connection c, String where, String value)
      throws SQLException {
    String sql = "SELECT l.owner, h.name, l.epoch, l.gpu_count, l.partition_id, l.state, "
        + "l.created_at, g.address, g.pci_id, g.model, g.numa_node, g.iommu_group, g.module_id "
        + "FROM gpuvirt_fleet_lease l JOIN gpuvirt_host h ON h.host_id = l.host_id "
        + "LEFT JOIN gpuvirt_gpu g ON g.host_id = l.host_id AND g.owner = l.owner AND g.epoch = "
        + "l.epoch " + where + " ORDER BY l.owner, g.address";
    try (PreparedStatement q = c.prepareStatement(sql)) {
      if (value != null) {
        q.setString(1, value);
      }
      try (ResultSet r = q.executeQuery()) {
        return leases(r);
      }
    }
  }

  /**
   * The leases in rows of owner, host, epoch, GPU count, partition, state, created, then the
   * GPU's address, PCI id, model, NUMA node, IOMMU group and module id (null address: no GPU),
   * sorted by owner.
   */
  private static List<FleetLease> leases(ResultSet r) throws SQLException {
    List<FleetLease> leases = new ArrayList<>();
    String owner = null;
    List<InventoryGpu> gpus = new ArrayList<>();
    Object[] head = null;
    while (r.next()) {
      if (!r.getString(1).equals(owner)) {
        if (owner != null) {
          leases.add(build(head, gpus));
        }
        owner = r.getString(1);
        gpus = new ArrayList<>();
        int p = r.getInt(5);
        OptionalInt partition = r.wasNull() ? OptionalInt.empty() : OptionalInt.of(p);
        head = new Object[] {owner, r.getString(2), r.getLong(3), r.getInt(4), partition,
            r.getString(6), r.getTimestamp(7).toInstant()};
      }
      if (r.getString(8) != null) {
        int m = r.getInt(13);
        OptionalInt module = r.wasNull() ? OptionalInt.empty() : OptionalInt.of(m);
        gpus.add(new InventoryGpu(PciAddress.parse(r.getString(8)),
            PciId.parse(r.getString(9)), r.getString(10), r.getInt(11), r.getInt(12),
            module));
      }
    }
    if (owner != null) {
      leases.add(build(head, gpus));
    }
    return leases;
  }

  private static FleetLease build(Object[] h, List<InventoryGpu> gpus) {
    return new FleetLease((String) h[0], (String) h[1], (Long) h[2], (Integer) h[3],
        (OptionalInt) h[4], gpus, FleetLease.State.valueOf((String) h[5]), (Instant) h[6]);
  }

  private static Optional<Instant> instant(Timestamp t) {
    return t == null ? Optional.empty() : Optional.of(t.toInstant());
  }
}
