package io.gpuvirt.core.alloc;

/** Why a device is part of a lease. */
public enum DeviceRole {
  /** A device the request asked for (it matches the selector and counts toward the request). */
  REQUESTED,
  /**
   * Another function of a requested device's slot (a GPU's HDMI audio, a USB-C controller) that
   * shares its IOMMU group and so goes to the VM with it.
   */
  COMPANION,
  /** An endpoint of the group that the request allowed explicitly (a NIC behind a switch without ACS). */
  ALLOWED_FOREIGN,
  /**
   * A host or PCI bridge (root port, switch port) that is a member of the group; it stays on the host
   * ({@code pcieport}) and is never bound to VFIO or given to the VM.
   */
  BRIDGE;

  /** Whether a device of this role goes to the VM (and is bound to VFIO). */
  public boolean passedThrough() {
    return this != BRIDGE;
  }
}
