package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.vfio.VfioDrivers;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The IOMMU groups of a host judged for one request: which are free candidates, which are held by
 * leases, and which cannot be given away and why (invariant 1: whole groups only, foreign endpoints
 * only when allowed, bridges exempt by exact class or bus range).
 */
final class Candidates {
  private final List<GroupCandidate> free = new ArrayList<>();
  private final Map<Integer, String> excluded = new TreeMap<>();
  private final Map<String, Integer> heldByOwner = new TreeMap<>();
  private final Map<String, Lease> leaseOfOwner = new TreeMap<>();

  private Candidates() {}

  /** Free candidates, sorted by group number. */
  List<GroupCandidate> free() {
    return free;
  }

  /** Groups holding requested devices that cannot be given away: group number to reason. */
  Map<Integer, String> excluded() {
    return excluded;
  }

  /** Matching devices held by other leases, per owner. */
  Map<String, Integer> heldByOwner() {
    return heldByOwner;
  }

  /** How a holder is named in a refusal: its owner, and for a manual binding how it ends. */
  String describeHolder(String owner) {
    Lease lease = leaseOfOwner.get(owner);
    if (lease == null || lease.origin() != LeaseOrigin.BIND) {
      return owner;
    }
    LeasedDevice first = lease.passedThroughDevices().isEmpty() ? lease.devices().get(0)
        : lease.passedThroughDevices().get(0);
    return owner + " (bound to " + first.vfioDriver().orElse("a VFIO driver")
        + " by 'gpuvirt bind'; 'gpuvirt bind --restore " + first.address() + "' ends it)";
  }

  /**
   * Judges every group for {@code request}.
   *
   * @param vfioIsHostDriver whether a device on a VFIO driver without a lease is free (the host
   *     binds GPUs to VFIO at boot); otherwise it is in use outside gpuvirt and its group excluded
   */
  static Candidates evaluate(AllocationRequest request, Topology topology,
      Collection<Lease> leases, boolean vfioIsHostDriver) {
    Map<Integer, String> leasedGroups = new HashMap<>();
    Map<PciAddress, String> leasedDevices = new HashMap<>();
    Map<PciAddress, String> vgpuParents = new HashMap<>();
    Map<PciAddress, String> migParents = new HashMap<>();
    Candidates result = new Candidates();
    for (Lease lease : leases) {
      result.leaseOfOwner.put(lease.owner(), lease);
      lease.vgpus().forEach(v -> vgpuParents.merge(v.pf(), lease.owner(), (a, b) -> a + ", " + b));
      lease.migs().forEach(m -> migParents.merge(m.gpu(), lease.owner(),
          (a, b) -> a.contains(b) ? a : a + ", " + b));
      for (LeasedGroup g : lease.groups()) {
        leasedGroups.put(g.number(), lease.owner());
        g.devices().forEach(d -> leasedDevices.put(d.address(), lease.owner()));
      }
    }
    LocalityStep.Paths paths = new LocalityStep.Paths(topology);
    for (IommuGroup group : topology.iommuGroups()) {
      result.judge(group, request, topology, paths, leasedGroups, leasedDevices, vgpuParents,
          migParents, vfioIsHostDriver);
    }
    return result;
  }

  private void judge(IommuGroup group, AllocationRequest request, Topology topology,
      LocalityStep.Paths locality, Map<Integer, String> leasedGroups,
      Map<PciAddress, String> leasedDevices, Map<PciAddress, String> vgpuParents,
      Map<PciAddress, String> migParents, boolean vfioIsHostDriver) {
    List<PciDevice> members = new ArrayList<>();
    List<PciAddress> missing = new ArrayList<>();
    for (PciAddress a : group.members()) {
      topology.device(a).ifPresentOrElse(members::add, () -> missing.add(a));
    }
    List<PciDevice> matched = members.stream().filter(request.selector()::matches).toList();
    if (matched.isEmpty()) {
      return;
    }
    int n = group.number();
    Optional<String> holder = Optional.ofNullable(leasedGroups.get(n));
    if (holder.isEmpty()) {
      holder = members.stream().map(d -> leasedDevices.get(d.address()))
          .filter(o -> o != null).findFirst();
    }
    if (holder.isPresent()) {
      heldByOwner.merge(holder.get(), matched.size(), Integer::sum);
      return;
    }
    if (!missing.isEmpty()) {
      excluded.put(n, "member " + missing.get(0) + " is listed in the group but is not a device of "
          + topology.source() + "; rescan the host");
      return;
    }
    if (!group.nonPciMembers().isEmpty()) {
      excluded.put(n, "IOMMU group " + n + " also holds " + group.nonPciMembers()
          + ", which are not PCI functions (platform or mediated devices) and cannot go to the VM"
          + " with " + matched.get(0).address() + "; a VM gets whole groups only");
      return;
    }
    Map<PciAddress, DeviceRole> roles = new LinkedHashMap<>();
    for (PciDevice d : members) {
      if (d.isBridge()) {
        roles.put(d.address(), DeviceRole.BRIDGE);
        continue;
      }
      Optional<String> vfio = d.driver().filter(VfioDrivers::isVfioDriver);
      if (vfio.isPresent() && !vfioIsHostDriver) {
        excluded.put(n, inUseOutside(d, vfio.get()));
        return;
      }
      Optional<String> refusal = migParents.containsKey(d.address())
          ? Optional.of(d.address() + " serves MIG GPU instances leased to "
              + migParents.get(d.address()) + "; its driver must stay on the host while they "
              + "exist (tear them down to pass the whole GPU through)")
          : sriovRefusal(d, leasedDevices, vgpuParents);
      if (refusal.isPresent()) {
        excluded.put(n, refusal.get());
        return;
      }
      if (matched.contains(d)) {
        roles.put(d.address(), DeviceRole.REQUESTED);
      } else if (matched.stream().anyMatch(m -> m.address().withFunction(0).equals(d.address().withFunction(0)))) {
        roles.put(d.address(), DeviceRole.COMPANION);
      } else if (request.allowedForeign().contains(d.address())) {
        roles.put(d.address(), DeviceRole.ALLOWED_FOREIGN);
      } else {
        excluded.put(n, "foreign endpoint " + d.address() + " [" + d.id() + ", class "
            + d.pciClass() + "] shares the group with " + matched.get(0).address()
            + "; allow it explicitly if it may go to the VM, or enable ACS above it");
        return;
      }
    }
    List<List<LocalityStep>> paths = matched.stream()
        .map(locality::of).toList();
    free.add(new GroupCandidate(group, members, roles, LocalityStep.commonPrefix(paths)));
  }

  /** The refusal of a device on a VFIO driver that no lease holds. */
  static String inUseOutside(PciDevice d, String driver) {
    return d.address() + " [" + d.id() + "] is on " + driver + " but no gpuvirt lease holds it:"
        + " it is in use outside gpuvirt (a VM started by another tool, or a binding made"
        + " without a lease), so gpuvirt neither resets nor leases it. If nothing uses it, give it"
        + " back to its host driver (clear " + d.address().sysfsPath("driver_override")
        + ", unbind it, write " + d.address() + " to /sys/bus/pci/drivers_probe); on a host that"
        + " binds its GPUs to VFIO at boot, use the STATIC_VFIO GPU driver policy";
  }

  /** Why an SR-IOV function cannot go to a VM now, if it cannot. */
  private static Optional<String> sriovRefusal(PciDevice d,
      Map<PciAddress, String> leasedDevices, Map<PciAddress, String> vgpuParents) {
    if (vgpuParents.containsKey(d.address())) {
      return Optional.of("GPU " + d.address() + " serves the vGPUs leased to "
          + vgpuParents.get(d.address()) + "; its driver must stay on the host while they exist "
          + "(tear them down to pass the whole GPU through)");
    }
    if (d.sriov().isPresent() && d.sriov().get().numVfs() > 0) {
      return Optional.of("physical function " + d.address() + " has " + d.sriov().get().numVfs()
          + " VFs enabled; its driver must stay on the host while they exist (disable the VFs to "
          + "pass the whole PF through)");
    }
    if (d.physicalFunction().isPresent() && leasedDevices.containsKey(d.physicalFunction().get())) {
      return Optional.of("virtual function " + d.address() + ": its physical function "
          + d.physicalFunction().get() + " is leased to "
          + leasedDevices.get(d.physicalFunction().get()));
    }
    return Optional.empty();
  }

}
