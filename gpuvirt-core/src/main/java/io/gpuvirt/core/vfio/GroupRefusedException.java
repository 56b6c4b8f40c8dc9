package io.gpuvirt.core.vfio;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.List;

/**
 * An IOMMU group cannot be handed over whole: it holds an endpoint that was not asked for (a NIC
 * behind a PCIe switch without ACS, say), or the IOMMU is off. Nothing was changed.
 */
public final class GroupRefusedException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final transient List<PciAddress> foreignDevices;

  public GroupRefusedException(String message, List<PciAddress> foreignDevices) {
    super(message);
    this.foreignDevices = List.copyOf(foreignDevices);
  }

  /** The endpoints that were not asked for; empty when the group could not be found at all. */
  public List<PciAddress> foreignDevices() {
    return foreignDevices;
  }
}
