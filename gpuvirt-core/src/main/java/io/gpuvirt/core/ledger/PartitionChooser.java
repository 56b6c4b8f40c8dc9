package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.PartitionTableCheck;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Chooses a Fabric Manager partition for a request (invariant 2): a free partition of exactly the
 * requested size, overlapping no active or leased partition, whose GPUs are free whole groups; among
 * those, the one that keeps the most large partitions available, then the lowest id.
 */
final class PartitionChooser {

  /** The partition chosen, its groups, and why. */
  record Choice(FabricPartition partition, List<GroupCandidate> groups, List<String> reasons) {}

  private PartitionChooser() {}

  static Choice choose(AllocationRequest request, Collection<Lease> leases, Candidates candidates,
      PartitionContext context, String host) {
    List<FabricPartition> partitions = context.fabricManager().listPartitions();
    Map<Integer, String> leasedIds = new TreeMap<>();
    leases.forEach(l -> l.partitionId().ifPresent(id -> leasedIds.put(id, l.owner())));
    List<PartitionTableCheck.Problem> problems = PartitionTableCheck.check(partitions, leasedIds);
    if (!problems.isEmpty()) {
      throw new AllocationRefusedException(request.owner(), "cannot allocate a partition for "
          + request.owner() + " on " + host + ": " + problems.stream()
              .map(PartitionTableCheck.Problem::detail).collect(java.util.stream.Collectors
                  .joining("; ")) + ". Nothing was changed; 'gpuvirt status' shows it all");
    }
    Set<Integer> unsupported = new HashSet<>(context.fabricManager().unsupportedPartitionIds());
    Map<Integer, FabricPartition> byId = new TreeMap<>();
    partitions.forEach(p -> byId.put(p.id(), p));

    // Leases first, so that a GPU of a leased, active partition is named by its owner.
    Map<Integer, String> occupiedBy = new HashMap<>();
    Map<Integer, String> owners = new HashMap<>();
    for (Lease lease : leases) {
      lease.partitionId().ifPresent(id -> owners.put(id, lease.owner()));
      lease.partitionId().ifPresent(id -> Optional.ofNullable(byId.get(id)).ifPresent(p ->
          p.moduleIds().forEach(m -> occupiedBy.putIfAbsent(m, "partition " + id
              + " leased to " + lease.owner()))));
      for (LeasedDevice d : lease.requestedDevices()) {
        context.moduleIds().moduleId(d.address()).ifPresent(m ->
            occupiedBy.putIfAbsent(m, d.address() + " leased to " + lease.owner()));
      }
    }
    for (FabricPartition p : partitions) {
      if (p.active()) {
        p.moduleIds().forEach(m -> occupiedBy.putIfAbsent(m, "active partition " + p.id()));
      }
    }
    Map<PciAddress, GroupCandidate> freeByAddress = new HashMap<>();
    for (GroupCandidate c : candidates.free()) {
      c.requested().forEach(d -> freeByAddress.put(d.address(), c));
    }

    int n = request.count();
    Map<FabricPartition, List<GroupCandidate>> usable = new LinkedHashMap<>();
    List<String> refusals = new ArrayList<>();
    for (FabricPartition p : byId.values()) {
      if (p.size() != n) {
        continue;
      }
      Optional<String> why = unusable(p, unsupported, occupiedBy, owners, context, freeByAddress);
      if (why.isPresent()) {
        refusals.add("partition " + p.id() + " " + p.moduleIds() + ": " + why.get());
      } else {
        usable.put(p, groupsOf(p, context, freeByAddress));
      }
    }
    if (usable.isEmpty()) {
      String sizes = byId.values().stream().map(FabricPartition::size).distinct().sorted()
          .map(String::valueOf).collect(Collectors.joining(", "));
      String detail = refusals.isEmpty()
          ? "Fabric Manager offers no partition of " + n + " GPUs (sizes offered: "
              + (sizes.isEmpty() ? "none" : sizes) + "); ask for one of the offered sizes"
          : "no free partition of " + n + " GPUs: " + String.join("; ", refusals) + "; "
              + freeNow(byId.values(), unsupported, occupiedBy.keySet())
              + "; release a lease or deactivate an unused partition";
      throw new AllocationRefusedException(request.owner(), "cannot allocate a partition of " + n
          + " GPUs for " + request.owner() + " on " + host + ": " + detail);
    }

    Set<Integer> occupied = occupiedBy.keySet();
    FabricPartition chosen = BestFit.partition(usable.keySet(), byId.values(), unsupported,
        occupied).orElseThrow();
    List<Integer> chosenScore = availableAfter(chosen, byId.values(), unsupported, occupied);
    List<Integer> sizes = sizesDescending(byId.values());
    FabricPartition lowest = usable.keySet().iterator().next();
    List<String> reasons = new ArrayList<>();
    reasons.add("partition " + chosen.id() + " (GPU modules " + chosen.moduleIds()
        + ") chosen: best fit among " + usable.size() + " free "
        + (usable.size() == 1 ? "partition" : "partitions") + " of " + n
        + (n == 1 ? " GPU" : " GPUs") + "; partitions still free after it: "
        + describe(sizes, chosenScore));
    if (lowest != chosen) {
      reasons.add("the lowest-id free partition, " + lowest.id() + ", would leave only "
          + describe(sizes, availableAfter(lowest, byId.values(), unsupported, occupied)));
    }
    reasons.add("GPUs by module id: " + chosen.moduleIds().stream()
        .map(m -> m + "=" + context.moduleIds().address(m).orElseThrow())
        .collect(Collectors.joining(", ")));
    return new Choice(chosen, usable.get(chosen), reasons);
  }

  /** What is free: the GPU modules no active or leased partition holds, and their partitions. */
  private static String freeNow(Collection<FabricPartition> all, Set<Integer> unsupported,
      Set<Integer> occupied) {
    TreeSet<Integer> free = new TreeSet<>();
    all.forEach(p -> p.moduleIds().stream().filter(m -> !occupied.contains(m)).forEach(free::add));
    if (free.isEmpty()) {
      return "free now: no GPU";
    }
    Map<Integer, Integer> bySize = new TreeMap<>((a, b) -> Integer.compare(b, a));
    for (FabricPartition q : all) {
      if (!q.active() && !unsupported.contains(q.id())
          && q.moduleIds().stream().noneMatch(occupied::contains)) {
        bySize.merge(q.size(), 1, Integer::sum);
      }
    }
    String partitions = bySize.isEmpty() ? "no usable partition"
        : bySize.entrySet().stream().map(e -> e.getValue() + " of " + e.getKey() + " GPUs")
            .collect(Collectors.joining(", "));
    return "free now: " + free.size() + " GPUs (modules " + free + "), making " + partitions;
  }

  private static Optional<String> unusable(FabricPartition p, Set<Integer> unsupported,
      Map<Integer, String> occupiedBy, Map<Integer, String> owners, PartitionContext context,
      Map<PciAddress, GroupCandidate> freeByAddress) {
    if (p.active()) {
      return Optional.of("already active" + Optional.ofNullable(owners.get(p.id()))
          .map(o -> " (leased to " + o + ")").orElse(""));
    }
    if (unsupported.contains(p.id())) {
      return Optional.of("Fabric Manager reports it unsupported (degraded GPU or NVLink)");
    }
    for (int m : p.moduleIds()) {
      if (occupiedBy.containsKey(m)) {
        return Optional.of("GPU module " + m + " is in use (" + occupiedBy.get(m) + ")");
      }
    }
    Set<PciAddress> addresses = new TreeSet<>();
    for (int m : p.moduleIds()) {
      Optional<PciAddress> a = context.moduleIds().address(m);
      if (a.isEmpty()) {
        return Optional.of("GPU module " + m + " has no PCI address in the module-id map; "
            + "rediscover the map while the GPUs are on the nvidia driver");
      }
      if (!freeByAddress.containsKey(a.get())) {
        return Optional.of("GPU " + a.get() + " (module " + m + ") is not a free whole IOMMU group "
            + "matching the request");
      }
      addresses.add(a.get());
    }
    for (GroupCandidate c : groupsOf(p, context, freeByAddress)) {
      for (PciDevice d : c.requested()) {
        if (!addresses.contains(d.address())) {
          return Optional.of("IOMMU group " + c.number() + " also holds " + d.address()
              + ", which is not in the partition");
        }
      }
    }
    return Optional.empty();
  }

  private static List<GroupCandidate> groupsOf(FabricPartition p, PartitionContext context,
      Map<PciAddress, GroupCandidate> freeByAddress) {
    TreeMap<Integer, GroupCandidate> groups = new TreeMap<>();
    for (int m : p.moduleIds()) {
      GroupCandidate c = freeByAddress.get(context.moduleIds().address(m).orElseThrow());
      groups.put(c.number(), c);
    }
    return List.copyOf(groups.values());
  }

  /** How many partitions of each size (largest first) stay available if {@code chosen} is taken. */
  static List<Integer> availableAfter(FabricPartition chosen, Collection<FabricPartition> all,
      Set<Integer> unsupported, Set<Integer> occupied) {
    Set<Integer> taken = new HashSet<>(occupied);
    taken.addAll(chosen.moduleIds());
    Map<Integer, Integer> bySize = new TreeMap<>();
    for (FabricPartition q : all) {
      if (!q.active() && !unsupported.contains(q.id())
          && q.moduleIds().stream().noneMatch(taken::contains)) {
        bySize.merge(q.size(), 1, Integer::sum);
      }
    }
    return sizesDescending(all).stream().map(s -> bySize.getOrDefault(s, 0)).toList();
  }

  private static List<Integer> sizesDescending(Collection<FabricPartition> all) {
    return all.stream().map(FabricPartition::size).distinct()
        .sorted((a, b) -> Integer.compare(b, a)).toList();
  }

  static int compare(List<Integer> a, List<Integer> b) {
    for (int i = 0; i < a.size(); i++) {
      int c = Integer.compare(a.get(i), b.get(i));
      if (c != 0) {
        return c;
      }
    }
    return 0;
  }

  private static String describe(List<Integer> sizes, List<Integer> counts) {
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < sizes.size(); i++) {
      parts.add(counts.get(i) + " x " + sizes.get(i) + (sizes.get(i) == 1 ? " GPU" : " GPUs"));
    }
    return String.join(", ", parts);
  }
}
