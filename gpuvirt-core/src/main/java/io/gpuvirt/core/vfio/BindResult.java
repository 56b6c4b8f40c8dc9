package io.gpuvirt.core.vfio;

import java.util.List;

/**
 * The outcome of {@link VfioBinder#bind}: every device of the requested groups and what was done to
 * it, and the device nodes to hand to QEMU.
 *
 * @param devices every endpoint of the groups, in address order
 * @param groups the device nodes of each group, by group number
 */
public record BindResult(List<DeviceBinding> devices, List<VfioGroupNode> groups) {
  public BindResult {
    devices = List.copyOf(devices);
    groups = List.copyOf(groups);
  }

  /** Whether nothing had to change (every device was already bound). */
  public boolean alreadyBound() {
    return devices.stream().noneMatch(DeviceBinding::boundByGpuvirt);
  }
}
