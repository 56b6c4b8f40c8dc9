package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
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
 * Decides which whole IOMMU groups answer a request, given the host and the leases already granted,
 * by the rules documented on the {@code io.gpuvirt.core.alloc} package. A pure function: it changes
 * nothing; {@link LeaseLedger} calls it under its lock and records the result.
 */
final class Allocator {

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
  static Lease allocate(AllocationRequest request, Topology topology,
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
  static Lease allocate(AllocationRequest request, Topology topology,
      Collection<Lease> leases, GpuDriverPolicy policy, Instant createdAt) {
    return allocate(request, topology, leases, policy, Optional.empty(), createdAt);
  }

  /**
   * Chooses a Fabric Manager partition of exactly {@code request.count()} GPUs and their groups.
   *
   * @throws AllocationRefusedException when no partition fits, naming each one and why
   * @throws io.gpuvirt.core.fabric.FabricManagerException when Fabric Manager cannot list partitions
   */
  static Lease allocate(AllocationRequest request, Topology topology,
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
