package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.Function;

/**
 * A free IOMMU group that may go to the requester as a whole: its members with their roles, the
 * requested devices it contributes, and where it sits (its locality path, root first).
 */
final class GroupCandidate {
  private final IommuGroup group;
  private final List<PciDevice> members;
  private final Map<PciAddress, DeviceRole> roles;
  private final List<PciDevice> requested;
  private final List<LocalityStep> path;

  GroupCandidate(IommuGroup group, List<PciDevice> members, Map<PciAddress, DeviceRole> roles,
      List<LocalityStep> path) {
    this.group = group;
    this.members = List.copyOf(members);
    this.roles = Map.copyOf(roles);
    this.requested = members.stream()
        .filter(d -> roles.get(d.address()) == DeviceRole.REQUESTED).toList();
    this.path = List.copyOf(path);
  }

  IommuGroup group() {
    return group;
  }

  int number() {
    return group.number();
  }

  /** How many requested devices the group contributes. */
  int weight() {
    return requested.size();
  }

  List<PciDevice> requested() {
    return requested;
  }

  List<PciDevice> members() {
    return members;
  }

  DeviceRole role(PciAddress address) {
    return roles.get(address);
  }

  /** Where the group sits: NUMA node, root bus, bridges from the root port down (common to its requested devices). */
  List<LocalityStep> path() {
    return path;
  }

  /** The lease's record of this group; {@code moduleIds} gives a GPU's module id in partition mode. */
  LeasedGroup toLeased(Function<PciAddress, OptionalInt> moduleIds) {
    return new LeasedGroup(group.number(), members.stream()
        .map(d -> LeasedDevice.of(d, roles.get(d.address()),
            roles.get(d.address()) == DeviceRole.REQUESTED ? moduleIds.apply(d.address())
                : OptionalInt.empty()))
        .toList());
  }
}
