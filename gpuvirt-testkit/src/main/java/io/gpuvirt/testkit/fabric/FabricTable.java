package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.PartitionGpu;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The partitions a Fabric Manager supports, as it reads them once at start: the default tables of
 * the Fabric Manager User Guide for HGX B200 and HGX H100, or any table a test needs.
 *
 * <pre>{@code
 * FabricTable t = FabricTable.hgxB200();   // ids 1-15, no 0
 * t.partition(4).orElseThrow().moduleIds(); // [1, 2]
 * }</pre>
 *
 * @param platform the platform name, for messages ({@code HGX B200})
 * @param partitions every partition, all inactive, sorted by id
 */
public record FabricTable(String platform, List<FabricPartition> partitions) {
  /** NVLink5 per-link rate in MB/s (53.125 GB/s; inferred, no captured listing). */
  public static final int NVLINK5_LINE_RATE_MBPS = 53125;
  /** NVLink4 per-link rate in MB/s used for the simulated H100 (illustrative). */
  public static final int NVLINK4_LINE_RATE_MBPS = 25000;
  /** The largest partition id libnvfm's arrays can hold plus one ({@code FM_MAX_FABRIC_PARTITIONS}). */
  public static final int MAX_PARTITIONS = 64;

  public FabricTable {
    if (platform == null || platform.isBlank()) {
      throw new InvalidValueException("a fabric table needs a platform name");
    }
    List<FabricPartition> sorted = new ArrayList<>();
    Set<Integer> ids = new HashSet<>();
    for (FabricPartition p : partitions) {
      if (p.id() >= MAX_PARTITIONS) {
        throw new InvalidValueException("partition id " + p.id() + " of " + platform
            + " must be below " + MAX_PARTITIONS);
      }
      if (!ids.add(p.id())) {
        throw new InvalidValueException("partition id " + p.id() + " appears twice in "
            + platform);
      }
      if (p.gpus().isEmpty() || p.gpus().size() > 16) {
        throw new InvalidValueException("partition " + p.id() + " of " + platform
            + " must have 1 to 16 GPUs, has " + p.gpus().size());
      }
      sorted.add(p.withActive(false));
    }
    sorted.sort(java.util.Comparator.comparingInt(FabricPartition::id));
    partitions = List.copyOf(sorted);
  }

  /**
   * The HGX B200/B300 default table: ids 1 to 15 (there is no 0); 1 = all eight; 2, 3 = halves;
   * 4 to 7 = pairs {1,2} {3,4} {5,6} {7,8}; 8 to 15 = single GPUs 1 to 8 with NVLink off.
   */
  public static FabricTable hgxB200() {
    List<FabricPartition> p = new ArrayList<>();
    p.add(multi(1, NVLINK5_LINE_RATE_MBPS, 1, 2, 3, 4, 5, 6, 7, 8));
    p.add(multi(2, NVLINK5_LINE_RATE_MBPS, 1, 2, 3, 4));
    p.add(multi(3, NVLINK5_LINE_RATE_MBPS, 5, 6, 7, 8));
    p.add(multi(4, NVLINK5_LINE_RATE_MBPS, 1, 2));
    p.add(multi(5, NVLINK5_LINE_RATE_MBPS, 3, 4));
    p.add(multi(6, NVLINK5_LINE_RATE_MBPS, 5, 6));
    p.add(multi(7, NVLINK5_LINE_RATE_MBPS, 7, 8));
    for (int m = 1; m <= 8; m++) {
      p.add(single(7 + m, m, NVLINK5_LINE_RATE_MBPS));
    }
    return new FabricTable("HGX B200", p);
  }

  /**
   * The HGX H100/H200 default table: ids 0 to 14; 0 = all eight; 1, 2 = halves; 3 to 6 = pairs
   * {1,3} {2,4} {5,7} {6,8}; 7 to 14 = single GPUs 1 to 8 with NVLink off.
   */
  public static FabricTable hgxH100() {
    List<FabricPartition> p = new ArrayList<>();
    p.add(multi(0, NVLINK4_LINE_RATE_MBPS, 1, 2, 3, 4, 5, 6, 7, 8));
    p.add(multi(1, NVLINK4_LINE_RATE_MBPS, 1, 2, 3, 4));
    p.add(multi(2, NVLINK4_LINE_RATE_MBPS, 5, 6, 7, 8));
    p.add(multi(3, NVLINK4_LINE_RATE_MBPS, 1, 3));
    p.add(multi(4, NVLINK4_LINE_RATE_MBPS, 2, 4));
    p.add(multi(5, NVLINK4_LINE_RATE_MBPS, 5, 7));
    p.add(multi(6, NVLINK4_LINE_RATE_MBPS, 6, 8));
    for (int m = 1; m <= 8; m++) {
      p.add(single(6 + m, m, NVLINK4_LINE_RATE_MBPS));
    }
    return new FabricTable("HGX H100", p);
  }

  private static FabricPartition multi(int id, int rate, int... moduleIds) {
    List<PartitionGpu> gpus = new ArrayList<>();
    for (int m : moduleIds) {
      gpus.add(new PartitionGpu(m, 18, 18, rate));
    }
    return new FabricPartition(id, false, gpus);
  }

  private static FabricPartition single(int id, int moduleId, int rate) {
    return new FabricPartition(id, false, List.of(new PartitionGpu(moduleId, 0, 18, rate)));
  }

  /** The partition with this id. */
  public Optional<FabricPartition> partition(int id) {
    return partitions.stream().filter(p -> p.id() == id).findFirst();
  }

  /** Every module id some partition names, sorted. */
  public SortedSet<Integer> moduleIds() {
    TreeSet<Integer> ids = new TreeSet<>();
    partitions.forEach(p -> ids.addAll(p.moduleIds()));
    return java.util.Collections.unmodifiableSortedSet(ids);
  }

  /** The partitions with {@code size} GPUs, sorted by id. */
  public List<FabricPartition> partitionsOfSize(int size) {
    return partitions.stream().filter(p -> p.size() == size).toList();
  }
}
