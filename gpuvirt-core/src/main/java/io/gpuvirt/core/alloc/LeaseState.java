package io.gpuvirt.core.alloc;

/**
 * Where a lease is in its life. The ledger stores the state by name; later versions add states
 * (the ledger format is versioned, and a ledger with a state this version does not know is refused,
 * never reset).
 */
public enum LeaseState {
  /** The groups are reserved for the owner; the host has not been changed for it yet. */
  ALLOCATED,
  /**
   * The lease's devices are bound to VFIO (and its partition activated): {@code reconcile} expects
   * them on a VFIO driver.
   */
  BOUND
}
