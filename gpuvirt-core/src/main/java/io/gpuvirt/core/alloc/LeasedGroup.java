package io.gpuvirt.core.alloc;

import io.gpuvirt.core.InvalidValueException;
import java.util.Comparator;
import java.util.List;

/**
 * One IOMMU group of a lease, with every member device.
 *
 * @param number the group number ({@code /dev/vfio/<number>})
 * @param devices every member, sorted by address, bridges included (role {@link DeviceRole#BRIDGE})
 */
public record LeasedGroup(int number, List<LeasedDevice> devices) {
  public LeasedGroup {
    if (number < 0) {
      throw new InvalidValueException("IOMMU group number must be 0 or more, was " + number);
    }
    devices = devices.stream().sorted(Comparator.comparing(LeasedDevice::address)).toList();
    if (devices.isEmpty()) {
      throw new InvalidValueException("leased IOMMU group " + number + " has no devices");
    }
    if (devices.stream().map(LeasedDevice::address).distinct().count() != devices.size()) {
      throw new InvalidValueException("leased IOMMU group " + number + " lists a device twice");
    }
  }

  /** The {@code /dev/vfio/<number>} node a VM launcher opens. */
  public String vfioDevicePath() {
    return "/dev/vfio/" + number;
  }
}
