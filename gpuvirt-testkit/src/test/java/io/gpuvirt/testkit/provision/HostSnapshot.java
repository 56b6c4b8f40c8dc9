package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a provisioning step may change on a host, read back: every device as the scanner sees it
 * (driver, driver_override and the rest), the active Fabric Manager partitions, the ledger.
 *
 * @param devices the scanned devices
 * @param activePartitions the active partition ids, sorted
 * @param leases every lease, sorted by owner
 */
record HostSnapshot(List<PciDevice> devices, List<Integer> activePartitions, List<Lease> leases) {

  /** Fails, listing the differences, unless {@code actual} equals {@code expected}. */
  static void assertUnchanged(HostSnapshot expected, HostSnapshot actual, String message) {
    if (!expected.equals(actual)) {
      throw new AssertionError(message + ": " + expected.differences(actual));
    }
  }

  /** What differs from {@code other}, one item per difference, for assertion messages. */
  String differences(HostSnapshot other) {
    List<String> out = new ArrayList<>();
    Map<PciAddress, PciDevice> mine = byAddress(devices);
    Map<PciAddress, PciDevice> theirs = byAddress(other.devices);
    TreeSet<PciAddress> all = new TreeSet<>(mine.keySet());
    all.addAll(theirs.keySet());
    for (PciAddress a : all) {
      PciDevice x = mine.get(a);
      PciDevice y = theirs.get(a);
      if (x == null || y == null) {
        out.add(a + (x == null ? " appeared" : " disappeared"));
      } else if (!x.equals(y)) {
        boolean driverState = !x.driver().equals(y.driver())
            || !x.driverOverride().equals(y.driverOverride());
        out.add(driverState ? a + ": driver " + x.driver().orElse("-") + " -> "
            + y.driver().orElse("-") + ", override " + x.driverOverride().orElse("-") + " -> "
            + y.driverOverride().orElse("-") : a + ": " + x + " -> " + y);
      }
    }
    if (!activePartitions.equals(other.activePartitions)) {
      out.add("active partitions " + activePartitions + " -> " + other.activePartitions);
    }
    if (!leases.equals(other.leases)) {
      out.add("leases " + describe(leases) + " -> " + describe(other.leases));
    }
    return out.isEmpty() ? "no differences" : String.join("; ", out);
  }

  private static Map<PciAddress, PciDevice> byAddress(List<PciDevice> devices) {
    Map<PciAddress, PciDevice> map = new TreeMap<>();
    devices.forEach(d -> map.put(d.address(), d));
    return map;
  }

  private static String describe(List<Lease> leases) {
    return leases.stream().map(l -> l.owner() + "/" + l.state() + "/groups " + l.groupNumbers()
        + l.partitionId().stream().mapToObj(p -> "/partition " + p).findFirst().orElse(""))
        .toList().toString();
  }
}
