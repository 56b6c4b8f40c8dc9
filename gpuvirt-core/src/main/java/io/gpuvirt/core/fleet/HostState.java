package io.gpuvirt.core.fleet;

import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.PartitionGpu;
import io.gpuvirt.core.ledger.BestFit;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One host's GPUs and partitions with their owners, read under the host row's lock: what the
 * allocator chooses from and what the host's summary columns are computed from.
 */
final class HostState {
  /** What a request gets on this host. */
  record Choice(List<InventoryGpu> gpus, OptionalInt partitionId) {}

  final long hostId;
  final String name;
  /** GPUs by address, with their owner (null: free). */
  final TreeMap<PciAddress, InventoryGpu> gpus = new TreeMap<>();
  final Map<PciAddress, String> gpuOwners = new java.util.HashMap<>();
  final TreeMap<Integer, FabricPartition> partitions = new TreeMap<>();
  final Map<Integer, String> partitionOwners = new java.util.HashMap<>();
  /**
   * Whether the GPU and partition rows read are those of the host row's latest version (see
   * {@link #loading}); a state {@link #load}ed after the lock always is.
   */
  boolean fresh;

  private HostState(long hostId, String name) {
    this.hostId = hostId;
    this.name = name;
  }

  /**
   * The query that reads, in one round trip, the hosts {@code hosts} selects (a query returning
   * {@code host_id, name, fresh}) with all their GPUs and partitions: one row per host (kind 0,
   * with {@code fresh} in column 13), per GPU (1) and per partition (2). {@link #read} turns the
   * rows back into states.
   */
  static String loading(String hosts) {
    return "WITH h AS MATERIALIZED (" + hosts + ") "
        + "SELECT h.host_id, h.name, 0, NULL::text, NULL::text, NULL::text, NULL::integer, "
        + "NULL::integer, NULL::integer, NULL::text, NULL::integer, NULL::integer[], h.fresh "
        + "FROM h "
        + "UNION ALL SELECT h.host_id, h.name, 1, g.address, g.pci_id, g.model, g.numa_node, "
        + "g.iommu_group, g.module_id, g.owner, NULL, NULL, NULL FROM h JOIN gpuvirt_gpu g "
        + "ON g.host_id = h.host_id "
        + "UNION ALL SELECT h.host_id, h.name, 2, NULL, NULL, NULL, NULL, NULL, NULL, p.owner, "
        + "p.partition_id, p.module_ids, NULL FROM h JOIN gpuvirt_partition p "
        + "ON p.host_id = h.host_id";
  }

  /** The states in the rows of a {@link #loading} query, in the order their hosts came. */
  static List<HostState> read(ResultSet r) throws SQLException {
    Map<Long, HostState> states = new java.util.LinkedHashMap<>();
    while (r.next()) {
      long id = r.getLong(1);
      HostState s = states.computeIfAbsent(id, k -> {
        try {
          return new HostState(k, r.getString(2));
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      switch (r.getInt(3)) {
        case 1 -> {
          int module = r.getInt(9);
          OptionalInt moduleId = r.wasNull() ? OptionalInt.empty() : OptionalInt.of(module);
          InventoryGpu g = new InventoryGpu(PciAddress.parse(r.getString(4)),
              PciId.parse(r.getString(5)), r.getString(6), r.getInt(7), r.getInt(8), moduleId);
          s.gpus.put(g.address(), g);
          if (r.getString(10) != null) {
            s.gpuOwners.put(g.address(), r.getString(10));
          }
        }
        case 2 -> {
          int partition = r.getInt(11);
          s.partitions.put(partition, partition(partition, r.getArray(12), false));
          if (r.getString(10) != null) {
            s.partitionOwners.put(partition, r.getString(10));
          }
        }
        default -> s.fresh = r.getBoolean(13); // the host's own row
      }
    }
    return List.copyOf(states.values());
  }

  /**
   * The host {@code hostId} with its GPUs and partitions, in one round trip. Lock the host row in
   * an earlier statement: a statement that locks and reads could read rows older than the lock.
   */
  static HostState load(Connection c, long hostId, String name) throws SQLException {
    try (PreparedStatement q = c.prepareStatement(loading("SELECT host_id, name, true AS fresh "
        + "FROM gpuvirt_host WHERE host_id = ?"))) {
      q.setLong(1, hostId);
      try (ResultSet r = q.executeQuery()) {
        List<HostState> found = read(r);
        if (found.isEmpty()) {
          throw new SQLException("host " + name + " (id " + hostId + ") is not in the fleet");
        }
        return found.get(0);
      }
    }
  }

  static FabricPartition partition(int id, Array modules, boolean active) throws SQLException {
    List<PartitionGpu> gpus = new ArrayList<>();
    for (Object m : (Object[]) modules.getArray()) {
      gpus.add(new PartitionGpu(((Number) m).intValue(), 0, 0, 0));
    }
    return new FabricPartition(id, active, gpus);
  }

  boolean sharedNvswitch() {
    return !partitions.isEmpty();
  }

  int freeGpus() {
    return gpus.size() - gpuOwners.size();
  }

  private Set<Integer> occupiedModules() {
    Set<Integer> taken = new HashSet<>();
    gpuOwners.keySet().forEach(a -> gpus.get(a).moduleId().ifPresent(taken::add));
    partitionOwners.keySet().forEach(id -> taken.addAll(partitions.get(id).moduleIds()));
    return taken;
  }

  private Map<Integer, InventoryGpu> byModule() {
    Map<Integer, InventoryGpu> m = new java.util.HashMap<>();
    gpus.values().forEach(g -> g.moduleId().ifPresent(id -> m.put(id, g)));
    return m;
  }

  /**
   * Free partitions of {@code size} whose GPUs all match {@code model} and sit on
   * {@code numaNode}, lowest id first.
   */
  private List<FabricPartition> usable(int size, Optional<PciId> model, OptionalInt numaNode) {
    Set<Integer> occupied = occupiedModules();
    Map<Integer, InventoryGpu> modules = byModule();
    List<FabricPartition> usable = new ArrayList<>();
    for (FabricPartition p : partitions.values()) {
      if (p.size() == size && !partitionOwners.containsKey(p.id())
          && p.moduleIds().stream().noneMatch(occupied::contains)
          && p.moduleIds().stream().allMatch(m -> modules.containsKey(m)
              && model.map(id -> id.equals(modules.get(m).id())).orElse(true)
              && (numaNode.isEmpty() || modules.get(m).numaNode() == numaNode.getAsInt()))) {
        usable.add(p);
      }
    }
    return usable;
  }

  /**
   * What {@code request} gets here: on a shared-NVSwitch host the free partition of its size that
   * core's {@link BestFit} rule picks; elsewhere whole GPUs on the NUMA node with the fewest free
   * GPUs that holds them all (ties: lower node), lowest addresses first, spilling over the nodes
   * with the most free GPUs only when no node holds the request (the NUMA level of
   * {@link io.gpuvirt.core.alloc.Placement#SAME_NUMA_NODE}; the inventory has no PCIe tree).
   */
  Optional<Choice> choose(FleetRequest request) {
    int n = request.count();
    if (sharedNvswitch()) {
      List<FabricPartition> all = partitions.values().stream()
          .map(p -> p.withActive(partitionOwners.containsKey(p.id()))).toList();
      Optional<FabricPartition> p = BestFit.partition(usable(n, request.model(),
          request.numaNode()), all, Set.of(),
          occupiedModules());
      if (p.isEmpty()) {
        return Optional.empty();
      }
      Map<Integer, InventoryGpu> modules = byModule();
      List<InventoryGpu> chosen = p.get().moduleIds().stream().map(modules::get)
          .sorted(Comparator.comparing(InventoryGpu::address)).toList();
      return Optional.of(new Choice(chosen, OptionalInt.of(p.get().id())));
    }
    TreeMap<Integer, List<InventoryGpu>> byNode = new TreeMap<>();
    for (InventoryGpu g : gpus.values()) {
      if (!gpuOwners.containsKey(g.address())
          && request.model().map(id -> id.equals(g.id())).orElse(true)
          && (request.numaNode().isEmpty() || g.numaNode() == request.numaNode().getAsInt())) {
        byNode.computeIfAbsent(g.numaNode(), k -> new ArrayList<>()).add(g);
      }
    }
    Optional<Map.Entry<Integer, List<InventoryGpu>>> tightest = byNode.entrySet().stream()
        .filter(e -> e.getValue().size() >= n)
        .min(Comparator.comparingInt((Map.Entry<Integer, List<InventoryGpu>> e) ->
            e.getValue().size()).thenComparing(Map.Entry::getKey));
    if (tightest.isPresent()) {
      return Optional.of(new Choice(List.copyOf(tightest.get().getValue().subList(0, n)),
          OptionalInt.empty()));
    }
    if (byNode.values().stream().mapToInt(List::size).sum() < n) {
      return Optional.empty();
    }
    List<InventoryGpu> chosen = new ArrayList<>();
    byNode.entrySet().stream()
        .sorted(Comparator.comparingInt((Map.Entry<Integer, List<InventoryGpu>> e) ->
            -e.getValue().size()).thenComparing(Map.Entry::getKey))
        .forEach(e -> e.getValue().forEach(g -> {
          if (chosen.size() < n) {
            chosen.add(g);
          }
        }));
    chosen.sort(Comparator.comparing(InventoryGpu::address));
    return Optional.of(new Choice(chosen, OptionalInt.empty()));
  }

  void take(Choice choice, String owner) {
    choice.gpus().forEach(g -> gpuOwners.put(g.address(), owner));
    choice.partitionId().ifPresent(id -> partitionOwners.put(id, owner));
  }

  void free(String owner) {
    gpuOwners.values().removeIf(owner::equals);
    partitionOwners.values().removeIf(owner::equals);
  }

  /** The request sizes (any model) this host can serve now, ascending. */
  List<Integer> freeSizes() {
    TreeSet<Integer> sizes = new TreeSet<>();
    if (sharedNvswitch()) {
      Set<Integer> sizesOffered = new TreeSet<>();
      partitions.values().forEach(p -> sizesOffered.add(p.size()));
      for (int s : sizesOffered) {
        if (!usable(s, Optional.empty(), OptionalInt.empty()).isEmpty()) {
          sizes.add(s);
        }
      }
    } else {
      for (int s = 1; s <= freeGpus(); s++) {
        sizes.add(s);
      }
    }
    return List.copyOf(sizes);
  }

  /** The summary columns the candidate query reads, as SQL values: free GPUs, free sizes. */
  Object[] summary(Connection c) throws SQLException {
    return new Object[] {freeGpus(), c.createArrayOf("integer", freeSizes().toArray())};
  }

  /** Writes the summary columns the candidate query reads. */
  void writeSummary(Connection c) throws SQLException {
    try (PreparedStatement u = c.prepareStatement(
        "UPDATE gpuvirt_host SET free_gpus = ?, free_sizes = ? WHERE host_id = ?")) {
      u.setInt(1, freeGpus());
      u.setArray(2, c.createArrayOf("integer", freeSizes().toArray()));
      u.setLong(3, hostId);
      u.executeUpdate();
    }
  }

  /** The GPUs of {@code owner} here, sorted. */
  List<InventoryGpu> gpusOf(String owner) {
    List<InventoryGpu> held = new ArrayList<>();
    gpuOwners.forEach((a, o) -> {
      if (o.equals(owner)) {
        held.add(gpus.get(a));
      }
    });
    held.sort(Comparator.comparing(InventoryGpu::address));
    return held;
  }

}
