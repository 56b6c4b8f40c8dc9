package io.gpuvirt.core.fabric;

import io.gpuvirt.core.InvalidValueException;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Fabric Manager partition: a fixed set of GPUs that can be activated together.
 *
 * @param id the partition id (HGX B200: 1 to 15; HGX H100: 0 to 14)
 * @param active whether it is activated now
 * @param gpus its GPUs, sorted by module id
 */
public record FabricPartition(int id, boolean active, List<PartitionGpu> gpus) {
  public FabricPartition {
    if (id < 0) {
      throw new InvalidValueException("partition id must be 0 or more, was " + id);
    }
    gpus = gpus.stream().sorted(Comparator.comparingInt(PartitionGpu::moduleId)).toList();
    if (gpus.stream().map(PartitionGpu::moduleId).distinct().count() != gpus.size()) {
      throw new InvalidValueException("partition " + id + " lists a module id twice: " + gpus);
    }
  }

  /** The module ids of its GPUs, sorted. */
  public Set<Integer> moduleIds() {
    TreeSet<Integer> ids = new TreeSet<>();
    gpus.forEach(g -> ids.add(g.moduleId()));
    return java.util.Collections.unmodifiableSet(ids);
  }

  /** How many GPUs it has. */
  public int size() {
    return gpus.size();
  }

  /** Whether it shares a GPU with {@code other}. */
  public boolean overlaps(FabricPartition other) {
    return other.gpus.stream().anyMatch(g -> moduleIds().contains(g.moduleId()));
  }

  /** The same partition with another activation state. */
  public FabricPartition withActive(boolean newActive) {
    return new FabricPartition(id, newActive, gpus);
  }
}
