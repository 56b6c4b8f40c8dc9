package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;

/**
 * An IOMMU group: the smallest set of devices the IOMMU can isolate, and so the unit gpuvirt hands
 * to a VM.
 *
 * @param number the group number ({@code /sys/kernel/iommu_groups/<number>})
 * @param members the member functions, sorted by address
 */
public record IommuGroup(int number, List<PciAddress> members) {
  public IommuGroup {
    if (number < 0) {
      throw new InvalidValueException("IOMMU group number must be 0 or more, was " + number);
    }
    members = members.stream().sorted().distinct().toList();
  }

  /** The {@code /dev/vfio/<number>} node a VM launcher opens once the group is bound to VFIO. */
  public String vfioDevicePath() {
    return "/dev/vfio/" + number;
  }
}
