package io.gpuvirt.core.alloc;

import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Decides which whole IOMMU groups answer a request, given the host and the leases already granted.
 * A pure function: it changes nothing; {@code LeaseLedger} calls it under its lock and records the
 * result.
 *
 * <h2>Groups</h2>
 * The unit is the IOMMU group (invariant 1). A group is a candidate when it holds at least one device
 * the request selects and none of its members is leased. A member on a VFIO driver
 * ({@link io.gpuvirt.core.vfio.VfioDrivers}) that no lease holds is in use outside gpuvirt (a VM
 * another tool started, a binding made without a lease): its group is never a candidate, unless the
 * host binds its GPUs to VFIO at boot ({@link GpuDriverPolicy#STATIC_VFIO}), where VFIO is their
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
 * See {@link Placement}. The default is best fit by NUMA node and then by PCIe switch, spilling
 * across nodes only when no node can hold the request (the lease's reasons say so and
 * {@link Lease#spansNumaNodes()} is true).
 *
 * <h2>Partitions</h2>
 * With a {@link PartitionContext} (a host whose GPUs share NVSwitches, Fabric Manager in shared
 * mode) the lease is exactly the GPUs of one partition, mapped by module id, never by PCI order
 * (invariant 2). Candidates are partitions of exactly the requested size that are not active,
 * share no GPU with an active or leased partition, and whose GPUs are free whole groups. Among them
 * the allocator takes the one that keeps the most large partitions available, comparing the count
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
public final class Allocator {

  private Allocator() {}

  /**
   * Chooses whole IOMMU groups for {@code request}.
   *
   * @param request what is asked
   * @param topology the host now
   * @param leases the leases already granted (their groups are not candidates)
   * @param createdAt the new lease's creation time
   * @return a lease in state {@link LeaseState#ALLOCATED}
   * @throws AllocationRefusedException when the host cannot grant the request, saying why
   */
  public static Lease allocate(AllocationRequest request, Topology topology,
      Collection<Lease> leases, Instant createdAt) {
    return allocate(request, topology, leases, GpuDriverPolicy.REBIND_PER_VM, Optional.empty(),
        createdAt);
  }

  /**
   * Chooses whole IOMMU groups for {@code request} on a host whose GPUs sit where {@code policy}
   * says between tenants: with {@link GpuDriverPolicy#STATIC_VFIO} a device on a VFIO driver
   * without a lease is free (bound at boot); with {@link GpuDriverPolicy#REBIND_PER_VM} it is in
   * use outside gpuvirt and never chosen.
   */
  public static Lease allocate(AllocationRequest request, Topology topology,
      Collection<Lease> leases, GpuDriverPolicy policy, Instant createdAt) {
    return allocate(request, topology, leases, policy, Optional.empty(), createdAt);
  }

  /**
   * Chooses a Fabric Manager partition of exactly {@code request.count()} GPUs and their groups.
   *
   * @throws AllocationRefusedException when no partition fits, naming each one and why
   * @throws io.gpuvirt.core.fabric.FabricManagerException when Fabric Manager cannot list partitions
   */
  public static Lease allocate(AllocationRequest request, Topology topology,
      Collection<Lease> leases, PartitionContext partitions, Instant createdAt) {
    return allocate(request, topology, leases, GpuDriverPolicy.REBIND_PER_VM,
        Optional.of(partitions), createdAt);
  }

  private static Lease allocate(AllocationRequest request, Topology topology,
      Collection<Lease> leases, GpuDriverPolicy policy, Optional<PartitionContext> partitions,
      Instant createdAt) {
    String owner = request.owner();
    if (!topology.iommuEnabled()) {
      throw new AllocationRefusedException(owner, "cannot allocate for " + owner + " on "
          + topology.source() + ": the host has no IOMMU groups (the IOMMU is off); add "
          + "intel_iommu=on or amd_iommu=on, and iommu=pt, to the kernel command line and reboot");
    }
    checkAddresses(request, topology);
    if (topology.devices().stream().noneMatch(request.selector()::matches)) {
      throw new AllocationRefusedException(owner, "cannot allocate " + request.count() + " x "
          + request.selector() + " for " + owner + " on " + topology.source()
          + ": no device matches " + request.selector() + "; check the selector against"
          + " 'gpuvirt topology' (e.g. gpu, 10de:2901, class:0302 or a BDF list)");
    }
    Candidates candidates = Candidates.evaluate(request, topology, leases,
        policy == GpuDriverPolicy.STATIC_VFIO);
    if (partitions.isPresent()) {
      try {
        partitions.get().moduleIds().validateAgainst(topology);
      } catch (io.gpuvirt.core.GpuvirtException e) {
        throw new AllocationRefusedException(owner, "cannot allocate a partition for " + owner
            + ": the module-id map does not fit " + topology.source() + ": " + e.getMessage());
      }
      PartitionChooser.Choice choice = PartitionChooser.choose(request, leases, candidates,
          partitions.get(), topology.source());
      List<String> reasons = new ArrayList<>(choice.reasons());
      reasons.addAll(memberReasons(choice.groups()));
      return lease(request, choice.groups(), OptionalInt.of(choice.partition().id()), reasons,
          createdAt, a -> partitions.get().moduleIds().moduleId(a)
              .map(OptionalInt::of).orElse(OptionalInt.empty()));
    }
    PlacementTree tree = PlacementTree.of(candidates.free(), request.count());
    if (!tree.root().canHold(request.count())) {
      throw refusal(request, topology, candidates, tree);
    }
    List<String> reasons = new ArrayList<>();
    List<GroupCandidate> chosen = place(request, tree, reasons);
    reasons.addAll(memberReasons(chosen));
    return lease(request, chosen, OptionalInt.empty(), reasons, createdAt, a -> OptionalInt.empty());
  }

  private static void checkAddresses(AllocationRequest request, Topology topology) {
    if (request.selector() instanceof DeviceSelector.ByAddresses byAddresses) {
      for (PciAddress a : byAddresses.addresses()) {
        if (topology.device(a).isEmpty()) {
          throw new AllocationRefusedException(request.owner(), "cannot allocate for "
              + request.owner() + ": " + a + " is not a device of " + topology.source()
              + "; check the address with lspci -D");
        }
      }
      if (byAddresses.addresses().size() < request.count()) {
        throw new AllocationRefusedException(request.owner(), "cannot allocate "
            + request.count() + " devices for " + request.owner() + " from only "
            + byAddresses.addresses().size() + " addresses (" + byAddresses
            + "); ask for at most that many");
      }
    }
  }

  private static List<GroupCandidate> place(AllocationRequest request, PlacementTree tree,
      List<String> reasons) {
    int n = request.count();
    switch (request.placement()) {
      case SPREAD -> {
        List<GroupCandidate> chosen = tree.select(tree.root(), n, true);
        reasons.add("spread as requested over " + describeSpread(chosen));
        return chosen;
      }
      case SAME_PCIE_SWITCH -> {
        Optional<PlacementTree.Node> bridge = tree.tightestBridgeFor(n);
        if (bridge.isPresent()) {
          reasons.add(bridge.get().label + " holds the whole request: best fit, "
              + bridge.get().capacity + " free under it");
          return tree.select(bridge.get(), n, false);
        }
        reasons.add("no single PCIe switch or root port holds " + n + " free; placing by NUMA node");
        return packed(tree, n, reasons);
      }
      default -> {
        return packed(tree, n, reasons);
      }
    }
  }

  private static List<GroupCandidate> packed(PlacementTree tree, int n, List<String> reasons) {
    List<GroupCandidate> chosen = tree.select(tree.root(), n, false);
    SortedSet<String> used = new TreeSet<>();
    chosen.forEach(c -> c.requested().forEach(d -> used.add("NUMA node " + d.numaNode())));
    String free = tree.numaNodes().stream().map(x -> x.label.substring("NUMA ".length()) + ": "
        + x.capacity + " free").collect(Collectors.joining(", "));
    if (used.size() == 1) {
      reasons.add(used.first() + " holds the whole request: best fit among NUMA nodes ("
          + free + ")");
    } else {
      reasons.add("spilled across " + String.join(", ", used) + ": no single NUMA node has "
          + n + " free devices in whole IOMMU groups (" + free + ")");
    }
    List<LocalityStep> common = LocalityStep.commonPrefix(
        chosen.stream().map(GroupCandidate::path).toList());
    if (chosen.size() > 1 && !common.isEmpty()
        && common.get(common.size() - 1).kind() == LocalityStep.Kind.BRIDGE) {
      reasons.add("all under " + common.get(common.size() - 1).label());
    } else if (chosen.size() > 1) {
      long subtrees = chosen.stream().map(c -> c.path().isEmpty() ? "" : c.path()
          .get(c.path().size() - 1).label()).distinct().count();
      reasons.add("under " + (common.isEmpty() ? "the host" : common.get(common.size() - 1)
          .label()) + ", in " + subtrees + " PCIe subtrees (tightest set that fits)");
    }
    return chosen;
  }

  private static String describeSpread(List<GroupCandidate> chosen) {
    long nodes = chosen.stream().flatMap(c -> c.requested().stream())
        .map(PciDevice::numaNode).distinct().count();
    long leaves = chosen.stream().map(c -> c.path().isEmpty() ? "" : c.path()
        .get(c.path().size() - 1).label()).distinct().count();
    return nodes + " NUMA node(s) and " + leaves + " PCIe subtrees";
  }

  private static List<String> memberReasons(List<GroupCandidate> chosen) {
    List<String> reasons = new ArrayList<>();
    for (GroupCandidate c : chosen) {
      for (PciDevice d : c.members()) {
        DeviceRole role = c.role(d.address());
        if (role == DeviceRole.COMPANION) {
          reasons.add("IOMMU group " + c.number() + " brings companion " + d.address() + " ["
              + d.id() + ", class " + d.pciClass() + "]");
        } else if (role == DeviceRole.ALLOWED_FOREIGN) {
          reasons.add("IOMMU group " + c.number() + " brings allowed foreign device "
              + d.address() + " [" + d.id() + ", class " + d.pciClass() + "]");
        }
      }
    }
    return reasons;
  }

  private static Lease lease(AllocationRequest request, List<GroupCandidate> chosen,
      OptionalInt partitionId, List<String> reasons, Instant createdAt,
      java.util.function.Function<PciAddress, OptionalInt> moduleIds) {
    return new Lease(request.owner(), LeaseState.ALLOCATED, request,
        chosen.stream().map(c -> c.toLeased(moduleIds)).toList(), partitionId, reasons, createdAt);
  }

  private static AllocationRefusedException refusal(AllocationRequest request, Topology topology,
      Candidates candidates, PlacementTree tree) {
    int n = request.count();
    StringBuilder m = new StringBuilder("cannot allocate ").append(n).append(" x ")
        .append(request.selector()).append(" for ").append(request.owner()).append(" on ")
        .append(topology.source()).append(": ");
    int free = tree.root().capacity;
    m.append(free).append(" free in whole IOMMU groups");
    if (!tree.numaNodes().isEmpty()) {
      m.append(" (").append(tree.numaNodes().stream().map(x -> x.label + ": " + x.capacity)
          .collect(Collectors.joining(", "))).append(')');
    }
    if (free >= n) {
      m.append(", but groups give all their devices or none and no combination makes exactly ")
          .append(n);
    }
    if (!candidates.heldByOwner().isEmpty()) {
      m.append("; leased: ").append(candidates.heldByOwner().entrySet().stream()
          .map(e -> e.getValue() + " to " + candidates.describeHolder(e.getKey()))
          .collect(Collectors.joining(", ")));
    }
    if (!candidates.excluded().isEmpty()) {
      m.append("; not candidates: ");
      int shown = 0;
      for (Map.Entry<Integer, String> e : candidates.excluded().entrySet()) {
        if (shown++ == 8) {
          m.append("; and ").append(candidates.excluded().size() - 8).append(" more groups");
          break;
        }
        m.append(shown > 1 ? "; " : "").append("IOMMU group ").append(e.getKey()).append(": ")
            .append(e.getValue());
      }
    }
    m.append(". Release a lease or ask for ").append(free >= n ? "another count" : "fewer");
    if (candidates.excluded().values().stream().anyMatch(r -> r.startsWith("foreign endpoint"))) {
      m.append(", or allow the foreign devices named");
    }
    return new AllocationRefusedException(request.owner(), m.toString());
  }
}
