package io.gpuvirt.core.fabric;

import java.util.Collection;
import java.util.List;

/**
 * The Fabric Manager port: what gpuvirt needs from NVIDIA Fabric Manager in shared NVSwitch
 * multitenancy mode ({@code FABRIC_MODE=1}). Core uses it; gpuvirt-fabric implements it (libnvfm
 * through JNA, the {@code fmpm} CLI) and gpuvirt-testkit simulates it.
 *
 * <p>Every refusal raises {@link FabricManagerException} carrying the {@link FmReturnCode}.
 */
public interface FabricManager extends AutoCloseable {

  /** Every supported partition with its activation state, sorted by id. */
  List<FabricPartition> listPartitions();

  /**
   * Activates a partition. Fabric Manager refuses with IN_USE when the partition or one of its GPUs
   * is in an active partition.
   */
  void activate(int partitionId);

  /** Deactivates a partition; refused with UNINITIALIZED / PARTITION_ID_NOT_IN_USE when not active. */
  void deactivate(int partitionId);

  /**
   * Tells a Fabric Manager started in restart mode which partitions are still active (an empty list
   * when none), within its deadline; until then it refuses everything else.
   */
  void setActivatedPartitions(Collection<Integer> partitionIds);

  /** Partitions Fabric Manager cannot support (degraded GPUs); empty on H100 and later. */
  List<Integer> unsupportedPartitionIds();

  /** Releases the connection. Never throws. */
  @Override
  void close();
}
