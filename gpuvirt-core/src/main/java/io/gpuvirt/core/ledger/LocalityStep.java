package io.gpuvirt.core.ledger;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One level of where a device sits: its NUMA node, its root bus, or a bridge above it.
 *
 * @param label what it is, for reasons ({@code PCIe switch 0000:15:00.0}); unique per step
 * @param sortKey orders siblings deterministically (node number, bus, address)
 * @param kind the level
 */
record LocalityStep(String label, long sortKey, Kind kind) {
  enum Kind { NUMA_NODE, ROOT_BUS, BRIDGE }

  /**
   * Builds locality paths for the devices of one topology, sharing the steps of common parents
   * (hundreds of VFs behind one switch share one chain), and keeps each device's path. Safe for
   * use by several threads; holds the topology's devices, not the topology.
   */
  static final class Paths {
    private final Map<PciAddress, PciDevice> devices;
    private final Map<PciAddress, List<LocalityStep>> chains = new ConcurrentHashMap<>();
    private final Map<String, LocalityStep> prefixes = new ConcurrentHashMap<>();
    private final Map<PciAddress, List<LocalityStep>> paths = new ConcurrentHashMap<>();

    /** The paths of the devices in {@code devices} (every device of one topology, by address). */
    Paths(Map<PciAddress, PciDevice> devices) {
      this.devices = devices;
    }

    /** The path of {@code device}, root first: NUMA node, root bus, bridges from the root port down. */
    List<LocalityStep> of(PciDevice device) {
      List<LocalityStep> known = paths.get(device.address());
      if (known != null) {
        return known;
      }
      List<LocalityStep> path = List.copyOf(compute(device));
      paths.put(device.address(), path);
      return path;
    }

    private List<LocalityStep> compute(PciDevice device) {
      List<LocalityStep> path = new ArrayList<>();
      path.add(prefixes.computeIfAbsent("n" + device.numaNode(), k -> new LocalityStep(
          "NUMA node " + device.numaNode(), device.numaNode(), Kind.NUMA_NODE)));
      path.add(prefixes.computeIfAbsent("b" + device.rootBus(), k -> new LocalityStep(
          "root bus " + device.rootBus(), busKey(device.rootBus()), Kind.ROOT_BUS)));
      device.parent().ifPresent(p -> path.addAll(chain(p, new HashSet<>())));
      return path;
    }

    /** The bridge steps from the root port down to {@code bridge}, inclusive. */
    private List<LocalityStep> chain(PciAddress bridge, Set<PciAddress> seen) {
      List<LocalityStep> cached = chains.get(bridge);
      if (cached != null) {
        return cached;
      }
      Optional<PciDevice> up = Optional.ofNullable(devices.get(bridge));
      if (up.isEmpty() || !seen.add(bridge)) {
        return List.of();
      }
      List<LocalityStep> steps = new ArrayList<>();
      up.get().parent().ifPresent(p -> steps.addAll(chain(p, seen)));
      steps.add(new LocalityStep(describe(up.get()), addressKey(bridge), Kind.BRIDGE));
      List<LocalityStep> result = List.copyOf(steps);
      chains.put(bridge, result);
      return result;
    }
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
