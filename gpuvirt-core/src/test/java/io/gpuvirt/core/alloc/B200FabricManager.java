package io.gpuvirt.core.alloc;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.PartitionGpu;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A small in-test Fabric Manager with the HGX B200 default partition table (ids 1-15 over modules
 * 1-8, FABRIC.md 4.1). Activation refuses overlap with IN_USE, as Fabric Manager does.
 */
public final class B200FabricManager implements FabricManager {
  private final TreeMap<Integer, FabricPartition> partitions = new TreeMap<>();
  private final Set<Integer> unsupported = new TreeSet<>();

  public B200FabricManager() {
    add(1, 1, 2, 3, 4, 5, 6, 7, 8);
    add(2, 1, 2, 3, 4);
    add(3, 5, 6, 7, 8);
    add(4, 1, 2);
    add(5, 3, 4);
    add(6, 5, 6);
    add(7, 7, 8);
    for (int m = 1; m <= 8; m++) {
      add(7 + m, m);
    }
  }

  private void add(int id, int... modules) {
    List<PartitionGpu> gpus = new ArrayList<>();
    for (int m : modules) {
      gpus.add(new PartitionGpu(m, modules.length == 1 ? 0 : 18, 18, 53125));
    }
    partitions.put(id, new FabricPartition(id, false, gpus));
  }

  /** Marks a partition unsupported (a degraded GPU). */
  public B200FabricManager unsupported(int id) {
    unsupported.add(id);
    return this;
  }

  @Override
  public List<FabricPartition> listPartitions() {
    return List.copyOf(partitions.values());
  }

  @Override
  public void activate(int partitionId) {
    FabricPartition p = partition(partitionId, "activate");
    for (FabricPartition q : partitions.values()) {
      if (q.active() && (q.id() == partitionId || q.overlaps(p))) {
        throw new FabricManagerException("activate partition " + partitionId, FmReturnCode.IN_USE,
            "partition " + q.id() + " is active and shares its GPUs");
      }
    }
    partitions.put(partitionId, p.withActive(true));
  }

  @Override
  public void deactivate(int partitionId) {
    FabricPartition p = partition(partitionId, "deactivate");
    if (!p.active()) {
      throw new FabricManagerException("deactivate partition " + partitionId,
          FmReturnCode.PARTITION_ID_NOT_IN_USE, "partition is not active");
    }
    partitions.put(partitionId, p.withActive(false));
  }

  @Override
  public void setActivatedPartitions(Collection<Integer> partitionIds) {
    partitions.replaceAll((id, p) -> p.withActive(partitionIds.contains(id)));
  }

  @Override
  public List<Integer> unsupportedPartitionIds() {
    return List.copyOf(unsupported);
  }

  @Override
  public void close() {}

  private FabricPartition partition(int id, String op) {
    FabricPartition p = partitions.get(id);
    if (p == null) {
      throw new FabricManagerException(op + " partition " + id, FmReturnCode.BADPARAM,
          "no such partition");
    }
    return p;
  }
}
