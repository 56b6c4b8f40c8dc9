package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.BridgeWindows.Range;
import io.gpuvirt.testkit.BridgeWindows.Region;
import io.gpuvirt.testkit.BridgeWindows.Windows;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** The rules a {@link HostProfile} must follow to describe a host Linux could have booted. */
final class ProfileRules {
  private ProfileRules() {}

  static void check(HostProfile p) {
    Map<PciAddress, DeviceSpec> byAddress = new HashMap<>();
    p.devices().forEach(d -> byAddress.put(d.address(), d));
    String where = " in profile " + p.name();

    // Parents and buses.
    for (DeviceSpec d : p.devices()) {
      if (d.parent().isPresent()) {
        DeviceSpec parent = byAddress.get(d.parent().get());
        if (parent == null) {
          throw bad(d, "its parent " + d.parent().get() + " is not a device" + where);
        }
        if (!parent.isBridge()) {
          throw bad(d, "its parent " + parent.address() + " is not a bridge (no bus range)" + where);
        }
        if (parent.address().domain() != d.address().domain()
            || parent.busRange().get().secondary() != d.address().bus()) {
          throw bad(d, "it must sit on bus " + String.format("%02x", parent.busRange().get()
              .secondary()) + ", the secondary bus of its parent " + parent.address() + where);
        }
        if (d.isBridge() && !within(d.busRange().get(), parent.busRange().get())) {
          throw bad(d, "its buses " + d.busRange().get() + " are not inside its parent's "
              + parent.busRange().get() + where);
        }
      } else {
        for (DeviceSpec b : p.devices()) {
          if (b.isBridge() && b.address().domain() == d.address().domain()
              && b.busRange().get().contains(d.address().bus())) {
            throw bad(d, "it has no parent but its bus lies behind bridge " + b.address() + " "
                + b.busRange().get() + "; set parent " + b.address() + where);
          }
        }
      }
      if (d.address().function() != 0) {
        DeviceSpec f0 = byAddress.get(d.address().withFunction(0));
        if (f0 == null) {
          throw bad(d, "function 0 of its slot is missing; Linux does not scan the other functions"
              + " without it" + where);
        }
        if (!f0.parent().equals(d.parent())) {
          throw bad(d, "it has another parent than function 0 of its slot" + where);
        }
      }
    }
    // Bus ranges: nested or disjoint; a bus is owned by one bridge.
    List<DeviceSpec> bridges = p.devices().stream().filter(DeviceSpec::isBridge).toList();
    for (int i = 0; i < bridges.size(); i++) {
      for (int j = i + 1; j < bridges.size(); j++) {
        DeviceSpec a = bridges.get(i);
        DeviceSpec b = bridges.get(j);
        if (a.address().domain() != b.address().domain()) {
          continue;
        }
        BusRange ra = a.busRange().get();
        BusRange rb = b.busRange().get();
        boolean disjoint = ra.subordinate() < rb.secondary() || rb.subordinate() < ra.secondary();
        boolean nested = within(ra, rb) && isAncestor(b, a, byAddress)
            || within(rb, ra) && isAncestor(a, b, byAddress);
        if (!disjoint && !nested || ra.secondary() == rb.secondary()) {
          throw bad(b, "its buses " + rb + " overlap those of bridge " + a.address() + " " + ra
              + where);
        }
      }
    }
    // IOMMU groups: all or none.
    long grouped = p.devices().stream().filter(d -> d.iommuGroup().isPresent()).count();
    if (grouped != 0 && grouped != p.devices().size()) {
      DeviceSpec d = p.devices().stream().filter(x -> x.iommuGroup().isEmpty()).findFirst()
          .orElseThrow();
      throw bad(d, "it has no IOMMU group but other devices have one; with the IOMMU on every "
          + "device is in a group" + where);
    }
    // Platform group members only with the IOMMU on.
    if (!p.platformDevices().isEmpty() && grouped == 0) {
      throw new InvalidValueException("platform device " + p.platformDevices().firstKey()
          + " has IOMMU group " + p.platformDevices().get(p.platformDevices().firstKey())
          + " but the IOMMU is off (no device has a group)" + where);
    }
    // NUMA nodes: a declared node for every device's numa_node; GPU memory nodes of GPUs.
    if (!p.numaNodes().isEmpty()) {
      Set<Integer> ids = new HashSet<>();
      p.numaNodes().forEach(n -> ids.add(n.id()));
      for (DeviceSpec d : p.devices()) {
        if (d.numaNode() >= 0 && !ids.contains(d.numaNode())) {
          throw bad(d, "its NUMA node " + d.numaNode() + " is not one of the profile's nodes "
              + ids + where);
        }
      }
      for (NumaNodeSpec n : p.numaNodes()) {
        if (n.gpuMemoryOf().isPresent()) {
          DeviceSpec gpu = byAddress.get(n.gpuMemoryOf().get());
          if (gpu == null || !gpu.pciClass().isGpu()) {
            throw new InvalidValueException("NUMA node " + n.id() + " holds memory of "
                + n.gpuMemoryOf().get() + ", which is not a GPU" + where);
          }
        }
      }
    }
    // Mounts: each controller on one device, each block device and mount point once.
    Map<String, PciAddress> controllers = new HashMap<>();
    Set<String> blockDevices = new HashSet<>();
    Set<String> mountPoints = new HashSet<>();
    for (DeviceSpec d : p.devices()) {
      for (DeviceSpec.MountSpec m : d.mounts()) {
        PciAddress owner = controllers.putIfAbsent(m.controller(), d.address());
        if (owner != null && !owner.equals(d.address())) {
          throw bad(d, "its NVMe controller " + m.controller() + " is already device " + owner
              + "'s" + where);
        }
        if (!blockDevices.add(m.blockDevice())) {
          throw bad(d, "block device " + m.blockDevice() + " is mounted twice" + where);
        }
        if (!mountPoints.add(m.mountPoint())) {
          throw bad(d, "mount point " + m.mountPoint() + " is used twice" + where);
        }
      }
    }
    // Module ids unique.
    Set<Integer> moduleIds = new HashSet<>();
    for (DeviceSpec d : p.devices()) {
      if (d.moduleId().isPresent() && !moduleIds.add(d.moduleId().getAsInt())) {
        throw bad(d, "module id " + d.moduleId().getAsInt() + " is used twice" + where);
      }
    }
    // Virtual functions fit on the PF's bus and collide with nothing.
    Set<PciAddress> taken = new HashSet<>(byAddress.keySet());
    for (DeviceSpec d : p.devices()) {
      if (d.sriov().isEmpty()) {
        continue;
      }
      DeviceSpec.SriovSpec s = d.sriov().get();
      int rid = (d.address().bus() << 8) | (d.address().device() << 3) | d.address().function();
      int last = rid + s.firstVfOffset() + (s.totalVfs() - 1) * s.vfStride();
      if ((last >> 8) != d.address().bus()) {
        throw bad(d, "its " + s.totalVfs() + " VFs (offset " + s.firstVfOffset() + ", stride "
            + s.vfStride() + ") do not fit on bus " + String.format("%02x", d.address().bus())
            + where);
      }
      for (int i = 0; i < s.totalVfs(); i++) {
        PciAddress vf = s.vfAddress(d.address(), i);
        if (!taken.add(vf)) {
          throw bad(d, "its VF " + i + " would be at " + vf + ", which is taken" + where);
        }
      }
    }
    // Regions: BARs (and VF regions) disjoint; sibling windows disjoint.
    List<Owned> regions = new ArrayList<>();
    for (DeviceSpec d : p.devices()) {
      for (Region r : BridgeWindows.regionsOf(d)) {
        regions.add(new Owned(d, r.kind(), r.range()));
      }
      if (d.parent().isPresent()) {
        for (Region r : BridgeWindows.regionsOf(d)) {
          if (r.kind() == BridgeWindows.Kind.MEM && r.range().end() > 0xffffffffL) {
            throw bad(d, "a non-prefetchable region at 0x" + Long.toHexString(r.range().start())
                + " lies above 4G, where no bridge forwards non-prefetchable memory" + where);
          }
        }
      }
    }
    checkDisjoint(regions, "overlaps", where);
    Map<PciAddress, Windows> windows = BridgeWindows.compute(p.devices());
    Map<Optional<PciAddress>, List<Owned>> bySiblings = new HashMap<>();
    for (DeviceSpec d : p.devices()) {
      List<Owned> list = bySiblings.computeIfAbsent(d.parent(), k -> new ArrayList<>());
      if (d.isBridge()) {
        Windows w = windows.get(d.address());
        w.io().ifPresent(r -> list.add(new Owned(d, BridgeWindows.Kind.IO, r)));
        w.mem().ifPresent(r -> list.add(new Owned(d, BridgeWindows.Kind.MEM, r)));
        w.pref().ifPresent(r -> list.add(new Owned(d, BridgeWindows.Kind.PREF, r)));
      }
      for (Region r : BridgeWindows.regionsOf(d)) {
        list.add(new Owned(d, r.kind(), r.range()));
      }
    }
    for (List<Owned> siblings : bySiblings.values()) {
      checkDisjoint(siblings, "overlaps the window or region of", where);
    }
  }

  private record Owned(DeviceSpec device, BridgeWindows.Kind kind, Range range) {}

  private static void checkDisjoint(List<Owned> regions, String verb, String where) {
    List<Owned> sorted = new ArrayList<>(regions);
    sorted.sort(Comparator.comparing((Owned o) -> o.kind() == BridgeWindows.Kind.IO)
        .thenComparingLong(o -> o.range().start()));
    for (int i = 1; i < sorted.size(); i++) {
      Owned a = sorted.get(i - 1);
      Owned b = sorted.get(i);
      boolean sameSpace = (a.kind() == BridgeWindows.Kind.IO) == (b.kind() == BridgeWindows.Kind.IO);
      if (sameSpace && a.range().overlaps(b.range())) {
        throw bad(b.device(), "its region 0x" + Long.toHexString(b.range().start()) + "-0x"
            + Long.toHexString(b.range().end()) + " " + verb + " " + a.device().address()
            + " (0x" + Long.toHexString(a.range().start()) + "-0x"
            + Long.toHexString(a.range().end()) + ")" + where);
      }
    }
  }

  private static boolean within(BusRange inner, BusRange outer) {
    return inner.secondary() >= outer.secondary() && inner.subordinate() <= outer.subordinate();
  }

  private static boolean isAncestor(DeviceSpec ancestor, DeviceSpec d,
      Map<PciAddress, DeviceSpec> byAddress) {
    Optional<PciAddress> next = d.parent();
    int guard = 0;
    while (next.isPresent() && guard++ < 512) {
      if (next.get().equals(ancestor.address())) {
        return true;
      }
      DeviceSpec up = byAddress.get(next.get());
      next = up == null ? Optional.empty() : up.parent();
    }
    return false;
  }

  private static InvalidValueException bad(DeviceSpec d, String why) {
    return new InvalidValueException("device " + d.address() + ": " + why);
  }
}
