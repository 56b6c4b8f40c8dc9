package io.gpuvirt.qemu.qmp;

import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.qemu.command.ExpanderBus;
import io.gpuvirt.qemu.command.PlacedDevice;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.RootPort;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Confirms from QMP {@code query-pci} that the guest sees the hierarchy the command planned: every
 * root port on the root bus with a bus behind it, and every passed-through function on that bus
 * at its planned function number, not on the root complex (where a B200 fails {@code cuInit}
 * with error 3).
 *
 * <pre>{@code
 * TopologyReport r = PassthroughTopologyCheck.await(qmp, args, Duration.ofSeconds(60));
 * if (!r.ok()) {
 *   throw new IllegalStateException(r.toString());
 * }
 * }</pre>
 */
public final class PassthroughTopologyCheck {
  private static final Duration POLL = Duration.ofMillis(50);

  private PassthroughTopologyCheck() {}

  /** Checks one {@code query-pci} result against the command's placement. */
  public static TopologyReport check(QemuArgs args, List<QmpPciDevice> rootDevices) {
    Objects.requireNonNull(args, "args");
    Map<String, QmpPciDevice> byId = new HashMap<>();
    Map<String, QmpPciDevice> parentOf = new HashMap<>();
    index(rootDevices, null, byId, parentOf);
    List<String> confirmed = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    for (RootPort port : args.rootPorts()) {
      QmpPciDevice p = byId.get(port.id());
      if (p == null) {
        problems.add("root port " + port.id() + " is not in the guest's PCI tree");
      } else if (parentOf.get(port.id()) != null) {
        problems.add("root port " + port.id() + " sits behind "
            + describe(parentOf.get(port.id())) + ", not on the root bus");
      } else if (p.pciClass().baseAndSub() != PciClass.PCI_BRIDGE || !p.isBridge()) {
        problems.add("root port " + port.id() + " at " + p.location() + " is not a PCI bridge"
            + " (class " + p.pciClass() + ")");
      } else if (!onPlannedBus(args, port, p)) {
        problems.add("root port " + port.id() + " is on guest bus " + String.format("%02x",
            p.bus()) + ", not on its planned bus " + port.bus());
      } else if (p.secondaryBus().getAsInt() == 0) {
        problems.add("root port " + port.id() + " at " + p.location() + " has no bus number yet:"
            + " the guest firmware has not enumerated it");
      } else {
        confirmed.add("root port " + port.id() + " at " + p.location() + " -> bus "
            + String.format("%02x", p.secondaryBus().getAsInt()));
      }
    }
    for (PlacedDevice d : args.devices()) {
      String name = d.id() + " (host " + d.host() + ")";
      QmpPciDevice g = byId.get(d.id());
      if (g == null) {
        problems.add(name + " is not in the guest's PCI tree (yet): its root port "
            + d.rootPort() + " has no numbered bus, or the device is missing");
        continue;
      }
      QmpPciDevice parent = parentOf.get(d.id());
      if (parent == null) {
        problems.add(name + " sits on the root complex at " + g.location() + ", not behind a"
            + " root port: CUDA fails cuInit with error 3 on HGX B200 in this layout");
      } else if (!parent.qdevId().equals(d.rootPort())) {
        problems.add(name + " sits behind " + describe(parent) + ", not behind its planned root"
            + " port " + d.rootPort());
      } else if (parentOf.get(parent.qdevId()) != null) {
        problems.add(name + " sits behind " + describe(parent) + ", which is not on the root"
            + " bus");
      } else if (g.function() != d.function()) {
        problems.add(name + " is function " + g.function() + " at " + g.location()
            + ", planned as function " + d.function());
      } else {
        confirmed.add(name + " at " + g.location() + " behind " + d.rootPort() + " ("
            + parent.location() + ")");
      }
    }
    return new TopologyReport(confirmed, problems);
  }

  /**
   * Whether a root port sits on the bus the plan put it on: bus 0 for {@code pcie.0}, an expander
   * bus's first bus number for a port behind it (NUMA placement).
   */
  private static boolean onPlannedBus(QemuArgs args, RootPort port, QmpPciDevice p) {
    int expected = args.expanderBuses().stream().filter(x -> x.id().equals(port.bus()))
        .mapToInt(ExpanderBus::busNr).findFirst().orElse(0);
    return p.bus() == expected;
  }

  /**
   * Polls {@code query-pci} until the check passes or {@code timeout} passes, and returns the last
   * report: the firmware numbers the buses behind root ports while it boots, and until then the
   * devices behind them are not listed.
   */
  public static TopologyReport await(QmpClient qmp, QemuArgs args, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      TopologyReport report = check(args, qmp.queryPci());
      if (report.ok() || System.nanoTime() > deadline) {
        return report;
      }
      try {
        Thread.sleep(POLL.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return report;
      }
    }
  }

  private static void index(List<QmpPciDevice> devices, QmpPciDevice parent,
      Map<String, QmpPciDevice> byId, Map<String, QmpPciDevice> parentOf) {
    for (QmpPciDevice d : devices) {
      if (!d.qdevId().isEmpty()) {
        byId.put(d.qdevId(), d);
        parentOf.put(d.qdevId(), parent);
      }
      index(d.children(), d, byId, parentOf);
    }
  }

  private static String describe(QmpPciDevice d) {
    return (d.qdevId().isEmpty() ? "an unnamed device" : d.qdevId()) + " at " + d.location();
  }
}
