package io.gpuvirt.core.vfio;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.List;

/**
 * A bind or restore is refused before any change: an IOMMU group cannot be handed over whole (it
 * holds an endpoint that was not asked for, a NIC behind a PCIe switch without ACS, say), the
 * IOMMU is off, a restore names only part of a group that is on the VFIO driver, or a guard rail
 * of {@link BindRequest} holds: the target driver is not a VFIO driver, or an endpoint backs a
 * mounted filesystem. The message names the devices, what is wrong and the override or fix.
 * Nothing was changed.
 */
public final class GroupRefusedException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final transient List<PciAddress> foreignDevices;

  public GroupRefusedException(String message, List<PciAddress> foreignDevices) {
    super(message);
    this.foreignDevices = List.copyOf(foreignDevices);
  }

  /**
   * The devices the refusal is about: the endpoints that were not asked for, the members a partial
   * restore left out, or the endpoints that back a mounted filesystem; empty when the refusal is
   * not about particular devices (IOMMU off, no group, a non-VFIO driver).
   */
  public List<PciAddress> foreignDevices() {
    return foreignDevices;
  }
}
