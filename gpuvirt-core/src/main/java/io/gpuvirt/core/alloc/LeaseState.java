package io.gpuvirt.core.alloc;

/**
 * Where a lease is in its life. The ledger stores the state by name; later versions add states
 * (the ledger format is versioned, and a ledger with a state this version does not know is refused,
 * never reset).
 */
public enum LeaseState {
  /**
   * The groups are reserved for the owner; the host has not been changed for it yet. A reservation
   * made with {@code gpuvirt allocate} stays here; provisioning continues from here.
   */
  ALLOCATED,
  /**
   * Provisioning journal of earlier releases: the GPUs were about to be reset and the lease's
   * Fabric Manager partition activated. A lease found in this state after a crash is rolled back
   * by recovery; provisioning now records {@link #BINDING} from the start.
   */
  ACTIVATING,
  /**
   * Provisioning journal: the GPUs are about to be reset, the lease's Fabric Manager partition
   * activated and the devices bound to VFIO (the lease records each device's reset and VFIO
   * driver). A lease found in this state after a crash is rolled back by recovery.
   */
  BINDING,
  /**
   * The lease's devices are bound to VFIO (and its partition activated): {@code reconcile} expects
   * them on a VFIO driver.
   */
  BOUND,
  /**
   * Teardown journal: the devices are going back to their original drivers and the partition is
   * being deactivated. A lease found in this state after a crash is torn down by recovery.
   */
  TEARING_DOWN;

  /** Whether a provisioning or teardown step was in flight (the host may be half-changed). */
  public boolean inFlight() {
    return this == ACTIVATING || this == BINDING || this == TEARING_DOWN;
  }
}
