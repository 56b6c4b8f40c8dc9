package io.gpuvirt.core.alloc;

import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Independent checks of the allocation invariants, for property tests: written from the rules, not
 * from the allocator's code. Each returns a description of the first violation, or null.
 */
public final class Invariants {
  private Invariants() {}

  /** No group and no device in two leases. */
  public static String disjoint(Collection<Lease> leases) {
    Map<Integer, String> groups = new HashMap<>();
    Map<PciAddress, String> devices = new HashMap<>();
    for (Lease l : leases) {
      for (LeasedGroup g : l.groups()) {
        String other = groups.put(g.number(), l.owner());
        if (other != null) {
          return "group " + g.number() + " in leases of " + other + " and " + l.owner();
        }
        for (LeasedDevice d : g.devices()) {
          other = devices.put(d.address(), l.owner());
          if (other != null) {
            return d.address() + " in leases of " + other + " and " + l.owner();
          }
        }
      }
    }
    return null;
  }

  /** The lease holds whole groups and satisfies its request. */
  public static String satisfies(Lease lease, Topology host) {
    AllocationRequest q = lease.request();
    if (lease.requestedDevices().size() != q.count()) {
      return lease.owner() + ": " + lease.requestedDevices().size() + " requested devices for "
          + q.count();
    }
    for (LeasedGroup g : lease.groups()) {
      IommuGroup onHost = host.iommuGroup(g.number()).orElse(null);
      Set<PciAddress> leased = new TreeSet<>();
      g.devices().forEach(d -> leased.add(d.address()));
      if (onHost == null || !leased.equals(new TreeSet<>(onHost.members()))) {
        return lease.owner() + ": group " + g.number() + " leased as " + leased + " but is "
            + (onHost == null ? "absent" : onHost.members());
      }
      List<PciAddress> requested = g.devices().stream()
          .filter(d -> d.role() == DeviceRole.REQUESTED).map(LeasedDevice::address).toList();
      for (LeasedDevice d : g.devices()) {
        PciDevice dev = host.require(d.address());
        boolean ok = switch (d.role()) {
          case BRIDGE -> dev.isBridge();
          case REQUESTED -> !dev.isBridge() && q.selector().matches(dev)
              && dev.sriov().map(s -> s.numVfs() == 0).orElse(true);
          case COMPANION -> !dev.isBridge() && requested.stream().anyMatch(r -> sameSlot(r,
              d.address())) && dev.sriov().map(s -> s.numVfs() == 0).orElse(true);
          case ALLOWED_FOREIGN -> !dev.isBridge() && q.allowedForeign().contains(d.address());
        };
        if (!ok) {
          return lease.owner() + ": " + d.address() + " has role " + d.role()
              + " against the rules";
        }
      }
    }
    return null;
  }

  /** Free eligible groups for {@code q}: group number to the requested devices it would give. */
  public static Map<Integer, List<PciDevice>> eligible(AllocationRequest q, Topology host,
      Collection<Lease> leases) {
    Set<Integer> leasedGroups = new HashSet<>();
    Set<PciAddress> leasedDevices = new HashSet<>();
    leases.forEach(l -> {
      leasedGroups.addAll(l.groupNumbers());
      l.devices().forEach(d -> leasedDevices.add(d.address()));
    });
    Map<Integer, List<PciDevice>> out = new TreeMap<>();
    for (IommuGroup g : host.iommuGroups()) {
      List<PciDevice> members = host.members(g);
      if (leasedGroups.contains(g.number())
          || members.stream().anyMatch(d -> leasedDevices.contains(d.address()))) {
        continue;
      }
      List<PciDevice> matched = members.stream()
          .filter(d -> !d.isBridge() && q.selector().matches(d)).toList();
      boolean ok = !matched.isEmpty();
      for (PciDevice d : members) {
        if (d.isBridge()) {
          continue;
        }
        boolean pfBusy = d.sriov().map(s -> s.numVfs() > 0).orElse(false);
        boolean belongs = matched.contains(d)
            || matched.stream().anyMatch(m -> sameSlot(m.address(), d.address()))
            || q.allowedForeign().contains(d.address());
        ok &= !pfBusy && belongs;
      }
      if (ok) {
        out.put(g.number(), matched);
      }
    }
    return out;
  }

  /** Whether some subset of the weights sums to exactly {@code n}. */
  public static boolean canMake(Collection<Integer> weights, int n) {
    BitSet sums = new BitSet(n + 1);
    sums.set(0);
    for (int w : weights) {
      for (int s = n - w; s >= 0; s--) {
        if (sums.get(s)) {
          sums.set(s + w);
        }
      }
    }
    return sums.get(n);
  }

  /** Eligible weights per NUMA node (groups whose requested devices sit on one node). */
  public static Map<Integer, List<Integer>> weightsByNode(Map<Integer, List<PciDevice>> eligible) {
    Map<Integer, List<Integer>> byNode = new TreeMap<>();
    for (List<PciDevice> matched : eligible.values()) {
      Set<Integer> nodes = new HashSet<>();
      matched.forEach(d -> nodes.add(d.numaNode()));
      if (nodes.size() == 1) {
        byNode.computeIfAbsent(nodes.iterator().next(), k -> new ArrayList<>()).add(matched.size());
      }
    }
    return byNode;
  }

  private static boolean sameSlot(PciAddress a, PciAddress b) {
    return a.domain() == b.domain() && a.bus() == b.bus() && a.device() == b.device();
  }
}
