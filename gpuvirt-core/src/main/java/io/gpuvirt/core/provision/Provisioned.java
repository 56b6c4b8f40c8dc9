package io.gpuvirt.core.provision;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.vfio.VfioGroupNode;
import java.util.List;

/**
 * A provisioned VM's devices: the BOUND lease (groups, devices with BARs and NUMA, partition, and
 * the reasons for the choice) and the VFIO device nodes the VM launcher must open. Render the QEMU
 * command from it with gpuvirt-qemu.
 *
 * @param lease the lease, in state BOUND
 * @param vfioGroups the {@code /dev/vfio/<group>} nodes (and iommufd cdevs) of its groups
 * @param alreadyProvisioned true when the owner was already provisioned and nothing changed
 */
public record Provisioned(Lease lease, List<VfioGroupNode> vfioGroups,
    boolean alreadyProvisioned) {
  public Provisioned {
    vfioGroups = List.copyOf(vfioGroups);
  }
}
