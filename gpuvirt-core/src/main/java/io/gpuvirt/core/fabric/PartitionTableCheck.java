package io.gpuvirt.core.fabric;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * The one check of what Fabric Manager reports against itself and against gpuvirt's leases, shared
 * by {@code status}/{@code reconcile} (which report each problem) and by the operations that act on
 * partitions (allocation and teardown, which stop): partition ids listed twice, active partitions
 * that share a GPU module (Fabric Manager never allows that: the listing cannot be trusted), and a
 * lease naming a partition Fabric Manager does not list (the lease was edited or belongs to another
 * board).
 */
public final class PartitionTableCheck {
  /** What is wrong. */
  public enum Kind {
    /** Fabric Manager lists one partition id twice. */
    DUPLICATE_PARTITION_ID,
    /** Two active partitions share a GPU module. */
    OVERLAPPING_ACTIVE_PARTITIONS,
    /** A lease names a partition Fabric Manager does not list. */
    LEASED_PARTITION_UNKNOWN
  }

  /**
   * One problem.
   *
   * @param kind what is wrong
   * @param partitionId the partition concerned
   * @param detail what was found and the fix
   */
  public record Problem(Kind kind, int partitionId, String detail) {
    public Problem {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(detail, "detail");
    }
  }

  private PartitionTableCheck() {}

  /**
   * The problems of {@code listing}, and of the leases' partitions against it.
   *
   * @param listing what Fabric Manager listed
   * @param leasedPartitions partition id to the owner of the lease that names it
   */
  public static List<Problem> check(List<FabricPartition> listing,
      Map<Integer, String> leasedPartitions) {
    List<Problem> out = new ArrayList<>();
    Map<Integer, FabricPartition> byId = new TreeMap<>();
    for (FabricPartition p : listing) {
      if (byId.put(p.id(), p) != null) {
        out.add(new Problem(Kind.DUPLICATE_PARTITION_ID, p.id(), "Fabric Manager lists partition "
            + p.id() + " twice; its listing cannot be trusted. Check the Fabric Manager log and"
            + " restart nvidia-fabricmanager"));
      }
    }
    List<FabricPartition> active = listing.stream().filter(FabricPartition::active).toList();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < active.size(); i++) {
      for (int j = i + 1; j < active.size(); j++) {
        FabricPartition a = active.get(i);
        FabricPartition b = active.get(j);
        if (a.id() != b.id() && a.overlaps(b) && seen.add(a.id() + "/" + b.id())) {
          Set<Integer> shared = new java.util.TreeSet<>(a.moduleIds());
          shared.retainAll(b.moduleIds());
          out.add(new Problem(Kind.OVERLAPPING_ACTIVE_PARTITIONS, a.id(), "Fabric Manager reports"
              + " partitions " + a.id() + " and " + b.id() + " both active, sharing GPU modules "
              + shared + ", which it never allows; its listing cannot be trusted. gpuvirt will"
              + " not allocate or tear down partitions until it is consistent: check the Fabric"
              + " Manager log and its state file"));
        }
      }
    }
    leasedPartitions.forEach((id, owner) -> {
      if (!byId.containsKey(id)) {
        out.add(new Problem(Kind.LEASED_PARTITION_UNKNOWN, id, "the lease of " + owner
            + " names partition " + id + ", which Fabric Manager does not list (it lists "
            + (byId.isEmpty() ? "no partitions at all" : "partitions " + byId.keySet())
            + "); the lease or Fabric Manager is wrong, so gpuvirt will not act on it. Compare"
            + " 'gpuvirt leases' with 'gpuvirt partitions list'"));
      }
    });
    return List.copyOf(out);
  }
}
