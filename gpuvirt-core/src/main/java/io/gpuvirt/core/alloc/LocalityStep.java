package io.gpuvirt.core.alloc;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One level of where a device sits: its NUMA node, its root bus, or a bridge above it.
 *
 * @param label what it is, for reasons ({@code PCIe switch 0000:15:00.0}); unique per step
 * @param sortKey orders siblings deterministically (node number, bus, address)
 * @param kind the level
 */
record LocalityStep(String label, long sortKey, Kind kind) {
  enum Kind { NUMA_NODE, ROOT_BUS, BRIDGE }

  /** The path of {@code device}, root first: NUMA node, root bus, bridges from the root port down. */
  static List<LocalityStep> pathOf(PciDevice device, Topology topology) {
    List<LocalityStep> path = new ArrayList<>();
    path.add(new LocalityStep("NUMA node " + device.numaNode(), device.numaNode(), Kind.NUMA_NODE));
    path.add(new LocalityStep("root bus " + device.rootBus(), busKey(device.rootBus()),
        Kind.ROOT_BUS));
    List<LocalityStep> bridges = new ArrayList<>();
    Set<PciAddress> seen = new HashSet<>();
    Optional<PciAddress> next = device.parent();
    while (next.isPresent() && seen.add(next.get())) {
      Optional<PciDevice> up = topology.device(next.get());
      if (up.isEmpty()) {
        break;
      }
      bridges.add(new LocalityStep(describe(up.get()), addressKey(up.get().address()),
          Kind.BRIDGE));
      next = up.get().parent();
    }
    Collections.reverse(bridges);
    path.addAll(bridges);
    return path;
  }

  /** The longest common prefix of paths. */
  static List<LocalityStep> commonPrefix(List<List<LocalityStep>> paths) {
    if (paths.isEmpty()) {
      return List.of();
    }
    List<LocalityStep> prefix = paths.get(0);
    for (List<LocalityStep> p : paths) {
      int i = 0;
      while (i < prefix.size() && i < p.size() && prefix.get(i).equals(p.get(i))) {
        i++;
      }
      prefix = prefix.subList(0, i);
    }
    return List.copyOf(prefix);
  }

  private static String describe(PciDevice bridge) {
    Optional<PciePortType> type = bridge.portType();
    String what;
    if (type.equals(Optional.of(PciePortType.SWITCH_UPSTREAM))) {
      what = "PCIe switch";
    } else if (type.equals(Optional.of(PciePortType.SWITCH_DOWNSTREAM))) {
      what = "switch port";
    } else if (type.equals(Optional.of(PciePortType.ROOT_PORT))) {
      what = "root port";
    } else {
      what = "bridge";
    }
    return what + " " + bridge.address();
  }

  private static long busKey(String rootBus) {
    try {
      String[] parts = rootBus.split(":");
      return (Long.parseLong(parts[0], 16) << 8) | Long.parseLong(parts[1], 16);
    } catch (RuntimeException e) {
      return Long.MAX_VALUE;
    }
  }

  private static long addressKey(PciAddress a) {
    return ((long) a.domain() << 16) | (a.bus() << 8) | (a.device() << 3) | a.function();
  }
}
