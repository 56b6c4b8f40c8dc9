package io.gpuvirt.core.provision;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.vfio.VfioGroupNode;
import io.gpuvirt.core.vmplan.VmPlan;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A provisioned VM's devices: the BOUND lease (groups, devices with BARs and NUMA, partition, and
 * the reasons for the choice), the VFIO device nodes the VM launcher must open, and the VM's plan
 * when the provisioner has a {@link io.gpuvirt.core.vmplan.VmPlanner} (gpuvirt-qemu's plan is a
 * {@code QemuArgs}: the QEMU command with its decisions).
 *
 * @param lease the lease, in state BOUND
 * @param vfioGroups the {@code /dev/vfio/<group>} nodes (and iommufd cdevs) of its groups
 * @param plan the VM plan, built before the lease was committed; empty without a planner
 * @param alreadyProvisioned true when the owner was already provisioned and nothing changed
 */
public record Provisioned(Lease lease, List<VfioGroupNode> vfioGroups, Optional<VmPlan> plan,
    boolean alreadyProvisioned) {
  public Provisioned {
    Objects.requireNonNull(lease, "lease");
    vfioGroups = List.copyOf(vfioGroups);
    Objects.requireNonNull(plan, "plan");
  }
}
