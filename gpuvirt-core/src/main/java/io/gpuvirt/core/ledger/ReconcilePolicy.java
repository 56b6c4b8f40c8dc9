package io.gpuvirt.core.ledger;

/**
 * What {@code reconcile} may repair. It never unbinds a device (invariant 3: gpuvirt only unbinds
 * what it bound); a GPU on vfio-pci without a lease is always only reported.
 *
 * @param dropStaleLeases remove leases whose devices are gone or changed, and {@code BOUND} leases
 *     whose devices are no longer on a VFIO driver
 * @param deactivateUnleasedPartitions deactivate Fabric Manager partitions that are active although
 *     no lease holds them
 */
public record ReconcilePolicy(boolean dropStaleLeases, boolean deactivateUnleasedPartitions) {
  /** Report every difference, change nothing. */
  public static final ReconcilePolicy REPORT_ONLY = new ReconcilePolicy(false, false);
  /** Drop stale leases and deactivate unleased partitions; report the rest. */
  public static final ReconcilePolicy REPAIR = new ReconcilePolicy(true, true);
}
