/**
 * Allocation: what a request asks for ({@link io.gpuvirt.core.alloc.AllocationRequest}), the lease
 * that answers it ({@link io.gpuvirt.core.alloc.Lease}) and the rules that choose its devices. The
 * way in is {@link io.gpuvirt.core.ledger.LeaseLedger#allocate(io.gpuvirt.core.alloc.AllocationRequest,
 * io.gpuvirt.core.pci.Topology, io.gpuvirt.core.ledger.AllocationOptions)} (or the provisioner,
 * which calls it): the ledger judges the request against the host and the leases already granted,
 * under its lock, and records the result. Judging changes nothing on the host.
 *
 * <h2>Groups</h2>
 * The unit is the IOMMU group (invariant 1). A group is a candidate when it holds at least one device
 * the request selects and none of its members is leased. A member on a VFIO driver
 * ({@link io.gpuvirt.core.vfio.VfioDrivers}) that no lease holds is in use outside gpuvirt (a VM
 * another tool started, a binding made without a lease): its group is never a candidate, unless the
 * host binds its GPUs to VFIO at boot ({@link io.gpuvirt.core.doctor.GpuDriverPolicy#STATIC_VFIO}), where VFIO is their
 * host driver. Its other members decide whether it can be given away:
 * <ul>
 *   <li>bridges (exactly class 0x0600 or 0x0604, or a device owning a bus range) stay on the host
 *       and are exempt; an NVSwitch (class 0x0680) is an endpoint like any other;
 *   <li>other functions of a requested device's slot (HDMI audio) come along as companions;
 *   <li>any other endpoint makes the group unusable unless the request allows that address;
 *   <li>an SR-IOV physical function with VFs enabled is never given away (its driver serves the
 *       VFs); a VF is, and its PF stays on the host.
 * </ul>
 * A lease holds exactly {@code count} requested devices; groups contribute all their requested
 * devices or none.
 *
 * <h2>Placement</h2>
 * See {@link io.gpuvirt.core.alloc.Placement}. The default is best fit by NUMA node and then by PCIe switch, spilling
 * across nodes only when no node can hold the request (the lease's reasons say so and
 * {@link io.gpuvirt.core.alloc.Lease#spansNumaNodes()} is true).
 *
 * <h2>Partitions</h2>
 * With a {@link io.gpuvirt.core.alloc.PartitionContext} (a host whose GPUs share NVSwitches, Fabric Manager in shared
 * mode) the lease is exactly the GPUs of one partition, mapped by module id, never by PCI order
 * (invariant 2). Candidates are partitions of exactly the requested size that are not active,
 * share no GPU with an active or leased partition, and whose GPUs are free whole groups. Among them
 * the ledger takes the one that keeps the most large partitions available, comparing the count
 * of available partitions size by size from the largest, then the lowest id. On an HGX B200
 * (partition ids 1 to 15 over GPU modules 1 to 8):
 *
 * <pre>
 *  id   modules      id   modules
 *   1   1-8           8   1        (8 to 15: one GPU each, modules 1 to 8)
 *   2   1-4           ...
 *   3   5-8          15   8
 *   4   1,2
 *   5   3,4
 *   6   5,6
 *   7   7,8
 * </pre>
 *
 * With partition 14 (module 7) active, a request for one GPU takes partition 15 (module 8): every
 * 4-GPU and 2-GPU partition that was still available stays available. The lowest free id, 8
 * (module 1), would break partitions 2 and 4.
 */
package io.gpuvirt.core.alloc;
