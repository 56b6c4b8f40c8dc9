package io.gpuvirt.core.fabric;

import io.gpuvirt.core.pci.PciAddress;
import java.util.Collection;
import java.util.List;

/**
 * The Fabric Manager port: what gpuvirt needs from NVIDIA Fabric Manager in shared NVSwitch
 * multitenancy mode ({@code FABRIC_MODE=1}) and in vGPU-based multitenancy mode ({@code
 * FABRIC_MODE=2}, where a partition is activated with the virtual functions of the vGPUs that use
 * it: {@link #activateWithVirtualFunctions}). Core uses it; gpuvirt-fabric implements it (libnvfm
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

  /**
   * Activates a partition for vGPU VMs ({@code FABRIC_MODE=2}, {@code
   * fmActivateFabricPartitionWithVFs}) with the virtual functions whose vGPUs will use it, in an
   * order that must stay the same across activations (FABRIC.md §4.5). Fabric Manager requires it
   * before any vGPU VM starts, even one with a single vGPU.
   *
   * <p>The default refuses with NOT_SUPPORTED: a client that cannot pass a VF list (the {@code
   * fmpm} CLI has no option for one) cannot drive vGPU mode.
   *
   * @throws FabricManagerException with the return code of the refusal
   */
  default void activateWithVirtualFunctions(int partitionId, List<PciAddress> virtualFunctions) {
    throw new FabricManagerException("activate partition " + partitionId + " with VFs "
        + virtualFunctions, FmReturnCode.NOT_SUPPORTED, this + " cannot pass a list of virtual "
        + "functions (fmActivateFabricPartitionWithVFs); use the libnvfm client (gpuvirt-fabric's "
        + "NvfmFabricManager) on a host in vGPU mode (FABRIC_MODE=2)");
  }

  /** Deactivates a partition; refused with UNINITIALIZED / PARTITION_ID_NOT_IN_USE when not active. */
  void deactivate(int partitionId);

  /**
   * Tells a Fabric Manager started in restart mode which partitions are still active (an empty list
   * when none), within its deadline; until then it refuses everything else.
   */
  void setActivatedPartitions(Collection<Integer> partitionIds);

  /** Partitions Fabric Manager cannot support (degraded GPUs); empty on H100 and later. */
  List<Integer> unsupportedPartitionIds();

  /**
   * GPUs and NVSwitches with failed NVLinks. Fabric Manager on HGX H100 and later always reports
   * none; an implementation that cannot ask reports none too.
   */
  default NvlinkFailedDevices nvlinkFailedDevices() {
    return NvlinkFailedDevices.none();
  }

  /**
   * Activates a partition unless it is active already, the way a provisioning step that may run
   * twice needs it (ubicloud accepts {@code fmpm -a} exit 239 the same way).
   *
   * <p>PARTITION_ID_IN_USE counts as "already active"; IN_USE (all that 535-series Fabric Manager
   * says) counts only when the listing shows this very partition active, so a partition whose GPUs
   * belong to another active partition is still refused.
   *
   * @return true if this call activated it, false if it was active already
   * @throws FabricManagerException for every other refusal
   */
  default boolean ensureActive(int partitionId) {
    try {
      activate(partitionId);
      return true;
    } catch (FabricManagerException e) {
      if (e.returnCode() == FmReturnCode.PARTITION_ID_IN_USE) {
        return false;
      }
      if (e.returnCode() == FmReturnCode.IN_USE && isActive(partitionId)) {
        return false;
      }
      throw e;
    }
  }

  /**
   * Deactivates a partition unless it is inactive already (ubicloud accepts {@code fmpm -d} exit 238
   * the same way). PARTITION_ID_NOT_IN_USE counts as "already inactive"; UNINITIALIZED (535) counts
   * when the listing confirms the partition inactive.
   *
   * @return true if this call deactivated it, false if it was inactive already
   * @throws FabricManagerException for every other refusal
   */
  default boolean ensureInactive(int partitionId) {
    try {
      deactivate(partitionId);
      return true;
    } catch (FabricManagerException e) {
      if (e.returnCode() == FmReturnCode.PARTITION_ID_NOT_IN_USE) {
        return false;
      }
      if (e.returnCode() == FmReturnCode.UNINITIALIZED && !isActive(partitionId)) {
        return false;
      }
      throw e;
    }
  }

  /**
   * Whether the partition is active now, from {@link #listPartitions()}.
   *
   * @throws FabricManagerException with BADPARAM when Fabric Manager has no such partition
   */
  default boolean isActive(int partitionId) {
    return listPartitions().stream().filter(p -> p.id() == partitionId).findFirst()
        .map(FabricPartition::active)
        .orElseThrow(() -> new FabricManagerException("look up partition " + partitionId,
            FmReturnCode.BADPARAM, "Fabric Manager lists no partition " + partitionId
                + "; list the supported partitions with 'gpuvirt partitions list'"));
  }

  /** Releases the connection. Never throws. */
  @Override
  void close();
}
