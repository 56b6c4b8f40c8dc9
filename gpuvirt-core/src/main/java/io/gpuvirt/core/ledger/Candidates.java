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
import java.util.Collections;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.WeakHashMap;

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
    Index index = index(topology);
    for (Index.Group group : index.groups) {
      result.judge(group, request, topology, index.paths, leasedGroups, leasedDevices,
          vgpuParents, migParents, vfioIsHostDriver);
    }
    return result;
  }

  /**
   * What every request on one topology needs and nothing changes (a topology is immutable): each
   * IOMMU group's members looked up once, and the locality paths of the devices. Kept per
   * topology while the topology is in use (weakly: it holds the devices, not the topology).
   */
  private static final class Index {
    /** A group with its members that are devices of the topology and those that are not. */
    record Group(IommuGroup group, List<PciDevice> members, List<PciAddress> missing) {}

    final List<Group> groups;
    final LocalityStep.Paths paths;

    Index(Topology topology) {
      Map<PciAddress, PciDevice> devices = new HashMap<>();
      topology.devices().forEach(d -> devices.put(d.address(), d));
      List<Group> all = new ArrayList<>();
      for (IommuGroup g : topology.iommuGroups()) {
        List<PciDevice> members = new ArrayList<>();
        List<PciAddress> missing = new ArrayList<>();
        for (PciAddress a : g.members()) {
          PciDevice d = devices.get(a);
          if (d == null) {
            missing.add(a);
          } else {
            members.add(d);
          }
        }
        all.add(new Group(g, List.copyOf(members), List.copyOf(missing)));
      }
      this.groups = List.copyOf(all);
      this.paths = new LocalityStep.Paths(devices);
    }
  }

  private static final Map<Topology, Index> INDEXES =
      Collections.synchronizedMap(new WeakHashMap<>());

  private static Index index(Topology topology) {
    Index index = INDEXES.get(topology);
    if (index == null) {
      index = new Index(topology);
      INDEXES.put(topology, index);
    }
    return index;
  }

  private void judge(Index.Group indexed, AllocationRequest request, Topology topology,
      LocalityStep.Paths locality, Map<Integer, String> leasedGroups,
      Map<PciAddress, String> leasedDevices, Map<PciAddress, String> vgpuParents,
      Map<PciAddress, String> migParents, boolean vfioIsHostDriver) {
    // Most groups hold nothing requested: find that out before building anything.
    IommuGroup group = indexed.group();
    List<PciDevice> members = indexed.members();
    List<PciAddress> missing = indexed.missing();
    List<PciDevice> matched = null;
    for (PciDevice d : members) {
      if (request.selector().matches(d)) {
        if (matched == null) {
          matched = new ArrayList<>(2);
        }
        matched.add(d);
      }
    }
    if (matched == null) {
      return;
    }
    int n = group.number();
    String holder = leasedGroups.get(n);
    for (int i = 0; holder == null && i < members.size(); i++) {
      holder = leasedDevices.get(members.get(i).address());
    }
    if (holder != null) {
      heldByOwner.merge(holder, matched.size(), Integer::sum);
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
      } else if (sameSlot(matched, d)) {
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
    List<List<LocalityStep>> paths = new ArrayList<>(matched.size());
    for (PciDevice d : matched) {
      paths.add(locality.of(d));
    }
    free.add(new GroupCandidate(group, members, roles, LocalityStep.commonPrefix(paths)));
  }

  /** Whether {@code d} is another function of the slot of a matched device (a companion). */
  private static boolean sameSlot(List<PciDevice> matched, PciDevice d) {
    PciAddress slot = d.address().withFunction(0);
    for (PciDevice m : matched) {
      if (m.address().withFunction(0).equals(slot)) {
        return true;
      }
    }
    return false;
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
