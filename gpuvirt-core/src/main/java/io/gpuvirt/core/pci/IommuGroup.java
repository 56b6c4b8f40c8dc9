package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;

/**
 * An IOMMU group: the smallest set of devices the IOMMU can isolate, and so the unit gpuvirt hands
 * to a VM.
 *
 * <p>A group can also hold members that are not PCI functions: a platform device on an Arm host
 * (an SMMU-attached controller under {@code /sys/devices/platform}) or a mediated device (an mdev
 * vGPU, named by its UUID, in a group of its own). They are listed by their names in
 * {@link #nonPciMembers()}; a group that holds one together with PCI functions is never handed to
 * a VM, because the VM would need the other device too.
 *
 * @param number the group number ({@code /sys/kernel/iommu_groups/<number>})
 * @param members the member functions, sorted by address
 * @param nonPciMembers the names of members that are not PCI functions, sorted
 */
public record IommuGroup(int number, List<PciAddress> members, List<String> nonPciMembers) {
  public IommuGroup {
    if (number < 0) {
      throw new InvalidValueException("IOMMU group number must be 0 or more, was " + number);
    }
    members = members.stream().sorted().distinct().toList();
    nonPciMembers = nonPciMembers.stream().sorted().distinct().toList();
  }

  /** A group whose members are all PCI functions. */
  public IommuGroup(int number, List<PciAddress> members) {
    this(number, members, List.of());
  }

  /** The {@code /dev/vfio/<number>} node a VM launcher opens once the group is bound to VFIO. */
  public String vfioDevicePath() {
    return "/dev/vfio/" + number;
  }
}
