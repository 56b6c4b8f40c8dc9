package io.gpuvirt.core.vfio;

import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * What binding did to one device: enough to put it back exactly.
 *
 * @param address the device
 * @param iommuGroup its IOMMU group
 * @param originalDriver the driver it had before, empty if it was unbound
 * @param driver the VFIO driver it is bound to now
 * @param boundByGpuvirt true if gpuvirt moved it; false if it was already on {@code driver} (then
 *     restore leaves it alone)
 */
public record DeviceBinding(PciAddress address, int iommuGroup, Optional<String> originalDriver,
    String driver, boolean boundByGpuvirt) {
  public DeviceBinding {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(originalDriver, "originalDriver of " + address);
    Objects.requireNonNull(driver, "driver of " + address);
  }
}
