package io.gpuvirt.core.vmplan;

import io.gpuvirt.core.alloc.Lease;

/**
 * The VM-planner port: turns a lease's devices into the {@link VmPlan} of the VM that will use
 * them. The provisioner calls it before it changes the host, so a VM that cannot be planned never
 * takes its GPUs. The lease records everything a plan needs of each device (address, ids, class,
 * NUMA node, BARs, IOMMU group, physical function) and the Fabric Manager partition.
 *
 * <p>gpuvirt-qemu provides one ({@code io.gpuvirt.qemu.command.QemuVmPlanner}) as a
 * {@link java.util.ServiceLoader} service, which {@code GpuHost} finds; an integrator who wants to
 * choose passes one to {@code Provisioner.Builder.vmPlanner} or {@code GpuHost.Builder.vmPlanner}.
 * Implementations must not touch the host.
 */
public interface VmPlanner {
  /**
   * The plan for {@code lease}'s devices.
   *
   * @throws VmPlanException when they cannot be given to one VM as they stand (naming the
   *     device and what to change)
   */
  VmPlan plan(Lease lease);
}
