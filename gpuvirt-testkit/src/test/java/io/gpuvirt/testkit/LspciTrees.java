package io.gpuvirt.testkit;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the parent of every device from {@code lspci -t} output: a device's parent is the bridge
 * (or root bus) whose bracket ends just left of it on its line, or, on a continuation line, the one
 * that started the child list in the same column.
 */
final class LspciTrees {
  private static final Pattern DEVICE = Pattern.compile("(?<![0-9a-f:\\[])([0-9a-f]{2})\\.([0-7])");
  private static final Pattern RANGE = Pattern.compile("\\[([0-9a-f]{2})(?:-[0-9a-f]{2})?\\]$");
  private static final Pattern ROOT = Pattern.compile("\\[([0-9a-f]{4,8}):([0-9a-f]{2})\\]$");

  private LspciTrees() {}

  /** A bus that holds devices: its parent's name and the "DDDD:BB" of the bus. */
  private record Bus(String parent, String busId) {}

  /** Device ("DDDD:BB:DD.F") to parent ("DDDD:BB:DD.F", or the root bus "DDDD:BB"). */
  static Map<String, String> parents(String tree) {
    Map<String, String> out = new HashMap<>();
    Map<Integer, Bus> busAtColumn = new HashMap<>();
    for (String line : tree.lines().toList()) {
      Map<Integer, String> bdfEndingAt = new HashMap<>();
      Matcher m = DEVICE.matcher(line);
      while (m.find()) {
        int column = m.start();
        int k = column - 1;
        while (k >= 0 && "-+\\".indexOf(line.charAt(k)) >= 0) {
          k--;
        }
        Bus bus;
        if (k >= 0 && line.charAt(k) == ']') {
          String left = line.substring(0, k + 1);
          Matcher root = ROOT.matcher(left);
          Matcher range = RANGE.matcher(left);
          if (root.find()) {
            String busId = root.group(1) + ":" + root.group(2);
            bus = new Bus(busId, busId);
          } else if (range.find()) {
            String bridge = bdfEndingAt.get(range.start() - 1);
            if (bridge == null) {
              throw new IllegalArgumentException("no bridge left of column " + column + ": " + line);
            }
            bus = new Bus(bridge, bridge.substring(0, bridge.indexOf(':') + 1) + range.group(1));
          } else {
            throw new IllegalArgumentException("cannot read bracket before column " + column
                + ": " + line);
          }
        } else {
          bus = busAtColumn.get(column - 2);
          if (bus == null) {
            throw new IllegalArgumentException("no bus started in column " + (column - 2) + ": "
                + line);
          }
        }
        busAtColumn.put(column - 2, bus);
        String bdf = bus.busId() + ":" + m.group(1) + "." + m.group(2);
        out.put(bdf, bus.parent());
        bdfEndingAt.put(m.end() - 1, bdf);
        // A bridge token is followed directly by "-[": remember where its name ends.
        bdfEndingAt.put(m.end(), bdf);
      }
    }
    return out;
  }

  static List<String> devices(String tree) {
    return parents(tree).keySet().stream().sorted().toList();
  }
}
