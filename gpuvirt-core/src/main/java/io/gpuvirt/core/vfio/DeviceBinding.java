package io.gpuvirt.core.vfio;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * What binding did to one device: enough to put it back exactly.
 *
 * @param address the device
 * @param iommuGroup its IOMMU group
 * @param originalDriver the driver it had before, empty if it was unbound
 * @param originalOverride its {@code driver_override} before, empty if none was set; restoring
 *     writes it back (binding itself leaves {@code driver_override} cleared)
 * @param driver the VFIO driver it is bound to now
 * @param boundByGpuvirt true if gpuvirt moved it; false if it was already on {@code driver} (then
 *     restore leaves it alone)
 */
public record DeviceBinding(PciAddress address, int iommuGroup, Optional<String> originalDriver,
    Optional<String> originalOverride, String driver, boolean boundByGpuvirt) {
  public DeviceBinding {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(originalDriver, "originalDriver of " + address);
    Objects.requireNonNull(originalOverride, "originalOverride of " + address);
    Objects.requireNonNull(driver, "driver of " + address);
    if (iommuGroup < 0) {
      throw new InvalidValueException("IOMMU group of " + address + " must be 0 or more, was "
          + iommuGroup);
    }
  }

  /**
   * A binding of a device that had no {@code driver_override} set before (the usual case, and
   * what a lease records).
   */
  public DeviceBinding(PciAddress address, int iommuGroup, Optional<String> originalDriver,
      String driver, boolean boundByGpuvirt) {
    this(address, iommuGroup, originalDriver, Optional.empty(), driver, boundByGpuvirt);
  }
}
