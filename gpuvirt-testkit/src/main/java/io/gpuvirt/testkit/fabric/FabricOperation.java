package io.gpuvirt.testkit.fabric;

/** The calls a client makes to Fabric Manager, for fault injection ({@link FabricFault}). */
public enum FabricOperation {
  /** {@code fmConnect}; every {@code fmpm} run connects first. */
  CONNECT,
  /** {@code fmGetSupportedFabricPartitions}, {@code fmpm -l}. */
  LIST,
  /** {@code fmActivateFabricPartition[WithVFs]}, {@code fmpm -a}. */
  ACTIVATE,
  /** {@code fmDeactivateFabricPartition}, {@code fmpm -d}. */
  DEACTIVATE,
  /** {@code fmSetActivatedFabricPartitions}, {@code fmpm --set-activated-list}. */
  SET_ACTIVATED,
  /** {@code fmGetUnsupportedFabricPartitions}, {@code fmpm --list-unsupported-partitions}. */
  UNSUPPORTED,
  /** {@code fmGetNvlinkFailedDevices}, {@code fmpm --get-nvlink-failed-devices}. */
  NVLINK_FAILED
}
