package io.gpuvirt.core.vfio;

import java.util.List;

/**
 * The device nodes a VM launcher opens for a bound IOMMU group.
 *
 * @param iommuGroup the group number
 * @param groupNode the legacy group node, {@code /dev/vfio/<group>}
 * @param deviceNodes the iommufd character devices ({@code /dev/vfio/devices/vfioN}) of the group's
 *     devices, present when the kernel exposes {@code vfio-dev/}
 */
public record VfioGroupNode(int iommuGroup, String groupNode, List<String> deviceNodes) {
  public VfioGroupNode {
    deviceNodes = List.copyOf(deviceNodes);
  }
}
