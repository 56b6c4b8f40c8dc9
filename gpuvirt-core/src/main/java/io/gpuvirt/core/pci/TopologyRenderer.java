package io.gpuvirt.core.pci;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Draws a {@link Topology} the way {@code lspci -t} draws the PCI tree: root buses as
 * {@code [dddd:bb]}, bridges followed by the buses behind them ({@code -[15-1a]-}), one output line
 * per leaf. Lines continue with {@code |} where an upper level still has devices to come. Buses and
 * the devices on them are listed in address order, as lspci 3.9 lists them.
 */
final class TopologyRenderer {
  private final Map<PciAddress, List<PciDevice>> children = new HashMap<>();
  private final boolean annotate;
  private final StringBuilder line = new StringBuilder();
  private final StringBuilder out = new StringBuilder();

  private TopologyRenderer(Topology topology, boolean annotate) {
    this.annotate = annotate;
    for (PciDevice d : topology.devices()) {
      d.parent().ifPresent(p -> children.computeIfAbsent(p, k -> new ArrayList<>()).add(d));
    }
  }

  /** The tree, one line per leaf device, each line ending in a newline; empty for no devices. */
  static String tree(Topology topology, boolean annotate) {
    TopologyRenderer r = new TopologyRenderer(topology, annotate);
    List<PciDevice> roots =
        topology.devices().stream().filter(d -> d.parent().isEmpty()).toList();
    if (!roots.isEmpty()) {
      r.buses(0, byBus(roots), true);
    }
    return r.out.toString();
  }

  /** Devices grouped by the bus they sit on, buses and devices in address order. */
  private static List<List<PciDevice>> byBus(List<PciDevice> devices) {
    TreeMap<String, List<PciDevice>> grouped = devices.stream().collect(Collectors.groupingBy(
        d -> d.address().busId(), () -> new TreeMap<>(busOrder()), Collectors.toList()));
    return List.copyOf(grouped.values());
  }

  private static Comparator<String> busOrder() {
    // busId is "dddd:bb" with a domain of 4 or more digits: compare numerically, not as text.
    return Comparator.comparingLong(
        (String id) -> Long.parseLong(id.substring(0, id.indexOf(':')), 16))
        .thenComparing(id -> id.substring(id.indexOf(':') + 1));
  }

  private void buses(int p, List<List<PciDevice>> buses, boolean host) {
    p = write(p, "-");
    if (buses.size() <= 1) {
      List<PciDevice> devices = buses.isEmpty() ? List.of() : buses.get(0);
      if (host) {
        p = write(p, "[" + devices.get(0).address().busId() + "]-");
      }
      bus(p, devices);
      return;
    }
    for (int i = 0; i < buses.size(); i++) {
      String branch = i < buses.size() - 1 ? "+-" : "\\-";
      List<PciDevice> devices = buses.get(i);
      int k = write(p, branch + "[" + devices.get(0).address().busId() + "]-");
      bus(k, devices);
    }
  }

  private void bus(int p, List<PciDevice> devices) {
    if (devices.isEmpty()) {
      emit(p, "");
    } else if (devices.size() == 1) {
      device(write(p, "--"), devices.get(0));
    } else {
      for (int i = 0; i < devices.size(); i++) {
        device(write(p, i < devices.size() - 1 ? "+-" : "\\-"), devices.get(i));
      }
    }
  }

  private void device(int p, PciDevice d) {
    p = write(p, String.format("%02x.%x", d.address().device(), d.address().function()));
    List<PciDevice> below = children.getOrDefault(d.address(), List.of());
    Optional<BusRange> range = d.busRange().or(() -> rangeOf(below));
    if (range.isPresent()) {
      p = write(p, "-" + range.get() + "-");
      buses(p, below.isEmpty() ? List.of() : byBus(below), false);
      return;
    }
    emit(p, annotate ? "  " + annotation(d) : "");
  }

  private static Optional<BusRange> rangeOf(List<PciDevice> below) {
    if (below.isEmpty()) {
      return Optional.empty();
    }
    int min = below.stream().mapToInt(c -> c.address().bus()).min().getAsInt();
    int max = below.stream().mapToInt(c -> c.address().bus()).max().getAsInt();
    return Optional.of(new BusRange(min, max));
  }

  /** {@code 10de:2901 [0302] GPU #GPU0, driver nvidia, IOMMU group 17, NUMA 0, BARs 64M/256G/32M}. */
  static String annotation(PciDevice d) {
    StringBuilder s = new StringBuilder();
    s.append(d.id()).append(String.format(" [%04x]", d.pciClass().baseAndSub()));
    boolean detailed = d.isGpu() || d.isNvSwitch();
    if (detailed) {
      s.append(d.isGpu() ? " GPU" : " NVSwitch");
      d.label().ifPresent(l -> s.append(' ').append(l));
      d.physicalFunction().ifPresent(pf -> s.append(" (VF of ").append(pf).append(')'));
      s.append(", ").append(d.driver().map(n -> "driver " + n).orElse("no driver"));
      s.append(", ").append(d.iommuGroup().isPresent()
          ? "IOMMU group " + d.iommuGroup().getAsInt() : "no IOMMU group");
      s.append(", ").append(d.numaNode() >= 0 ? "NUMA " + d.numaNode() : "no NUMA node");
      if (!d.bars().isEmpty()) {
        s.append(", BARs ").append(d.bars().stream().map(Bar::humanSize)
            .collect(Collectors.joining("/")));
      }
    } else {
      d.driver().ifPresent(n -> s.append(", driver ").append(n));
    }
    return s.toString();
  }

  /** Writes {@code text} at column {@code p}, dropping what was there; returns the new end. */
  private int write(int p, String text) {
    line.setLength(p);
    line.append(text);
    return line.length();
  }

  /**
   * Outputs the line up to column {@code p}, then turns it into the prefix of the next line:
   * branches ({@code +}, {@code |}) become {@code |}, everything else a space.
   */
  private void emit(int p, String annotation) {
    line.setLength(p);
    out.append(line).append(annotation).append('\n');
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      line.setCharAt(i, c == '+' || c == '|' ? '|' : ' ');
    }
  }
}
