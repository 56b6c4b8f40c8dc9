package io.gpuvirt.core.fleet;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

/**
 * Reads the fleet tables and lists every rule they break: a lease whose GPUs are not its size, a
 * partition lease whose GPUs are not its partition's, two leased partitions of a host that
 * overlap, a GPU held without a lease, a host summary (free GPUs, free sizes) that disagrees with
 * its rows.
 */
public final class FleetAudit {
  private FleetAudit() {}

  public static List<String> problems(DataSource db) throws SQLException {
    List<String> problems = new ArrayList<>();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      collect(c, problems, "lease GPUs != gpu_count", "SELECT l.owner || ': ' || count(g.address) "
          + "|| ' GPUs for ' || l.gpu_count FROM gpuvirt_fleet_lease l LEFT JOIN gpuvirt_gpu g "
          + "ON g.owner = l.owner AND g.epoch = l.epoch AND g.host_id = l.host_id "
          + "GROUP BY l.owner, l.gpu_count HAVING count(g.address) <> l.gpu_count");
      collect(c, problems, "GPU held without a lease", "SELECT g.host_id || ' ' || g.address || ' "
          + "by ' || g.owner FROM gpuvirt_gpu g WHERE g.owner IS NOT NULL AND NOT EXISTS (SELECT 1 "
          + "FROM gpuvirt_fleet_lease l WHERE l.owner = g.owner AND l.epoch = g.epoch AND "
          + "l.host_id = g.host_id)");
      collect(c, problems, "partition lease GPUs != partition modules", "SELECT l.owner FROM "
          + "gpuvirt_fleet_lease l JOIN gpuvirt_partition p ON p.host_id = l.host_id AND "
          + "p.partition_id = l.partition_id WHERE p.owner IS DISTINCT FROM l.owner OR "
          + "(SELECT array_agg(g.module_id ORDER BY g.module_id) FROM gpuvirt_gpu g WHERE "
          + "g.host_id = l.host_id AND g.owner = l.owner) <> (SELECT array_agg(m ORDER BY m) FROM "
          + "unnest(p.module_ids) m)");
      collect(c, problems, "partition host lease without partition", "SELECT l.owner FROM "
          + "gpuvirt_fleet_lease l WHERE l.partition_id IS NULL AND EXISTS (SELECT 1 FROM "
          + "gpuvirt_partition p WHERE p.host_id = l.host_id)");
      collect(c, problems, "overlapping leased partitions", "SELECT a.host_id || ' ' || "
          + "a.partition_id || '/' || b.partition_id FROM gpuvirt_partition a JOIN "
          + "gpuvirt_partition b ON a.host_id = b.host_id AND a.partition_id < b.partition_id "
          + "WHERE a.owner IS NOT NULL AND b.owner IS NOT NULL AND a.module_ids && b.module_ids");
      collect(c, problems, "host summary wrong", "SELECT h.name || ' says ' || h.free_gpus || ' "
          + "free' FROM gpuvirt_host h WHERE h.free_gpus <> (SELECT count(*) FROM gpuvirt_gpu g "
          + "WHERE g.host_id = h.host_id AND g.owner IS NULL)");
      summaries(c, problems);
      c.rollback();
    }
    return problems;
  }

  /**
   * Each host's stored free sizes against those the allocator's own rules compute from its rows
   * ({@link HostState#freeSizes}): the summary the candidate query reads is written both by Java
   * (allocation, publication) and by the schema's {@code gpuvirt_release}.
   */
  private static void summaries(Connection c, List<String> problems) throws SQLException {
    Map<Long, String> names = new LinkedHashMap<>();
    Map<Long, List<Integer>> stored = new HashMap<>();
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT host_id, name, free_sizes FROM gpuvirt_host "
            + "ORDER BY host_id")) {
      while (r.next()) {
        names.put(r.getLong(1), r.getString(2));
        List<Integer> sizes = new ArrayList<>();
        for (Object o : (Object[]) r.getArray(3).getArray()) {
          sizes.add(((Number) o).intValue());
        }
        stored.put(r.getLong(1), sizes);
      }
    }
    for (Map.Entry<Long, String> host : names.entrySet()) {
      List<Integer> computed = HostState.load(c, host.getKey(), host.getValue()).freeSizes();
      if (!computed.equals(stored.get(host.getKey()))) {
        problems.add("host free sizes wrong: " + host.getValue() + " says "
            + stored.get(host.getKey()) + ", its rows give " + computed);
      }
    }
  }

  private static void collect(Connection c, List<String> problems, String rule, String query)
      throws SQLException {
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(query)) {
      while (r.next()) {
        problems.add(rule + ": " + r.getString(1));
      }
    }
  }
}
