package io.gpuvirt.core.vfio;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.List;

/**
 * An IOMMU group cannot be handed over whole: it holds an endpoint that was not asked for (a NIC
 * behind a PCIe switch without ACS, say), the IOMMU is off, or a restore names only part of a
 * group that is on the VFIO driver. Nothing was changed.
 */
public final class GroupRefusedException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final transient List<PciAddress> foreignDevices;

  public GroupRefusedException(String message, List<PciAddress> foreignDevices) {
    super(message);
    this.foreignDevices = List.copyOf(foreignDevices);
  }

  /**
   * The endpoints that were not asked for (for a partial restore: the members left out); empty
   * when the refusal is not about particular devices (IOMMU off, no group).
   */
  public List<PciAddress> foreignDevices() {
    return foreignDevices;
  }
}
