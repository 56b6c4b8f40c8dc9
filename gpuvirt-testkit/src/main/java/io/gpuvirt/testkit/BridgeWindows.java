package io.gpuvirt.testkit;

import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The forwarding windows of bridges: the smallest aligned ranges that hold every region behind them
 * (BARs of descendants and the VF regions of descendant PFs), as firmware would program them.
 */
final class BridgeWindows {
  static final long MEM_GRANULE = 1L << 20;
  static final long IO_GRANULE = 1L << 12;

  /** An inclusive address range. */
  record Range(long start, long end) {
    boolean overlaps(Range other) {
      return start <= other.end && other.start <= end;
    }

    Range union(Range other) {
      return new Range(Math.min(start, other.start), Math.max(end, other.end));
    }

    Range aligned(long granule) {
      return new Range(Math.floorDiv(start, granule) * granule,
          Math.floorDiv(end, granule) * granule + granule - 1);
    }
  }

  /** The three windows of one bridge; empty when nothing of that kind lies behind it. */
  record Windows(Optional<Range> io, Optional<Range> mem, Optional<Range> pref) {
    List<Range> all() {
      List<Range> out = new ArrayList<>();
      io.ifPresent(out::add);
      mem.ifPresent(out::add);
      pref.ifPresent(out::add);
      return out;
    }
  }

  /** The kind of a region: which bridge window forwards it. */
  enum Kind { IO, MEM, PREF }

  /** A region a device decodes. */
  record Region(Kind kind, Range range) {}

  private BridgeWindows() {}

  /** The regions a device decodes itself: its BARs and, for a PF, the VF BAR region. */
  static List<Region> regionsOf(DeviceSpec d) {
    List<Region> out = new ArrayList<>();
    for (Bar bar : d.bars()) {
      out.add(new Region(kind(bar), new Range(bar.start(), bar.end())));
    }
    d.sriov().ifPresent(s -> out.add(new Region(kind(s.vfBar()), new Range(s.vfBar().start(),
        s.vfBar().start() + s.vfBar().size() * s.totalVfs() - 1))));
    return out;
  }

  static Kind kind(Bar bar) {
    return bar.io() ? Kind.IO : bar.prefetchable() ? Kind.PREF : Kind.MEM;
  }

  /** The windows of every bridge of the device list. */
  static Map<PciAddress, Windows> compute(List<DeviceSpec> devices) {
    Map<PciAddress, List<DeviceSpec>> children = new HashMap<>();
    for (DeviceSpec d : devices) {
      d.parent().ifPresent(p -> children.computeIfAbsent(p, k -> new ArrayList<>()).add(d));
    }
    Map<PciAddress, Windows> out = new HashMap<>();
    for (DeviceSpec d : devices) {
      if (d.isBridge()) {
        Range[] acc = new Range[3];
        collect(d, children, acc, true);
        out.put(d.address(), new Windows(
            Optional.ofNullable(acc[0]).map(r -> r.aligned(IO_GRANULE)),
            Optional.ofNullable(acc[1]).map(r -> r.aligned(MEM_GRANULE)),
            Optional.ofNullable(acc[2]).map(r -> r.aligned(MEM_GRANULE))));
      }
    }
    return out;
  }

  private static void collect(DeviceSpec d, Map<PciAddress, List<DeviceSpec>> children,
      Range[] acc, boolean top) {
    if (!top) {
      for (Region r : regionsOf(d)) {
        int i = r.kind().ordinal();
        acc[i] = acc[i] == null ? r.range() : acc[i].union(r.range());
      }
    }
    for (DeviceSpec c : children.getOrDefault(d.address(), List.of())) {
      collect(c, children, acc, false);
    }
  }
}
