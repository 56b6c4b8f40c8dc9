package io.gpuvirt.core.ledger;

import io.gpuvirt.core.fabric.FabricPartition;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The best-fit rule for Fabric Manager partitions that one host's allocation uses, for callers
 * that choose among partitions they know from elsewhere (the fleet allocator, from the inventory
 * hosts publish): among the free partitions of the requested size, the one that keeps the most
 * large partitions available (counted largest size first), then the lowest id. So an 8-GPU
 * partition stays whole while smaller requests fit elsewhere.
 */
public final class BestFit {
  private BestFit() {}

  /**
   * The partition to take among {@code usable}.
   *
   * @param usable the free partitions of the requested size, in the order ties go (lowest id
   *     first)
   * @param all every partition of the host, active ones marked {@link FabricPartition#active()}
   * @param unsupported ids Fabric Manager reports unsupported (never counted as available)
   * @param occupiedModules the GPU modules in use (leased or in an active partition)
   * @return empty when {@code usable} is empty
   */
  public static Optional<FabricPartition> partition(Collection<FabricPartition> usable,
      Collection<FabricPartition> all, Set<Integer> unsupported, Set<Integer> occupiedModules) {
    FabricPartition chosen = null;
    List<Integer> chosenScore = null;
    for (FabricPartition p : usable) {
      List<Integer> score = PartitionChooser.availableAfter(p, all, unsupported, occupiedModules);
      if (chosen == null || PartitionChooser.compare(score, chosenScore) > 0) {
        chosen = p;
        chosenScore = score;
      }
    }
    return Optional.ofNullable(chosen);
  }
}
