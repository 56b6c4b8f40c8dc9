package io.gpuvirt.core.provision;

/** The steps of provisioning and teardown, as reported in progress events and errors. */
public enum ProvisionStep {
  /** Choose the IOMMU groups (or the partition) and record the lease: the journal of intent. */
  ALLOCATE,
  /**
   * Plan the VM from the lease (root ports, large-BAR policy, aperture), before anything changes
   * on the host: a VM that cannot be planned never takes its devices.
   */
  PLAN,
  /** Function-level reset of each GPU while it is still on its host driver. */
  RESET,
  /** Activate the lease's Fabric Manager partition. */
  ACTIVATE_PARTITION,
  /** Bind the lease's IOMMU groups to the VFIO driver. */
  BIND,
  /** Read the host back: every device on the VFIO driver, the partition active. */
  VERIFY,
  /** Mark the lease BOUND: the VM can start. */
  COMMIT,
  /** Put every device back on the driver it had. */
  RESTORE_DRIVERS,
  /** Deactivate the lease's Fabric Manager partition. */
  DEACTIVATE_PARTITION,
  /** Remove the lease from the ledger. */
  RELEASE
}
