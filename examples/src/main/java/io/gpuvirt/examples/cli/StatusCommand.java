package io.gpuvirt.examples.cli;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.ModuleIdMapStore;
import io.gpuvirt.core.ledger.Discrepancy;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.ledger.ReconcilePolicy;
import io.gpuvirt.core.ledger.ReconcileReport;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import java.io.PrintWriter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt status}: leases, active partitions and GPU drivers side by side, with every
 * inconsistency between them flagged. Changes nothing.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = {"Show leases, active Fabric Manager partitions and GPU drivers side by side,"
        + " flagging any inconsistency. Changes nothing. Without --root it shows the simulated"
        + " HGX B200 that provision uses."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:consistent", "1:inconsistencies found (listed)", "2:error"})
final class StatusCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HostOptions hostOptions;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (HostContext host = hostOptions.open()) {
      LeaseLedger ledger = LeaseLedger.open(host.stateDirectory());
      Topology topology = host.scan();
      List<Lease> leases = ledger.leases(topology);
      Optional<List<FabricPartition>> partitions = host.sharedNvSwitch()
          ? Optional.of(host.fabricManager().listPartitions()) : Optional.empty();
      Optional<ModuleIdMap> savedMap = new ModuleIdMapStore(host.stateDirectory()).load();
      ModuleIdMap moduleIds = savedMap.orElse(new ModuleIdMap(Map.of()));
      Map<String, String> leaseOfDevice = new HashMap<>();
      leases.forEach(l -> l.devices().forEach(d -> leaseOfDevice.put(d.address().toString(),
          l.owner())));

      out.println("host: " + host.describe());
      out.println();
      out.println("LEASES (" + host.stateDirectory() + ")");
      out.print(leases.isEmpty() ? "  none\n" : LeaseText.table(leases));
      out.println();
      if (partitions.isPresent()) {
        out.println("ACTIVE PARTITIONS");
        List<FabricPartition> active = partitions.get().stream().filter(FabricPartition::active)
            .toList();
        if (active.isEmpty()) {
          out.println("  none");
        }
        for (FabricPartition p : active) {
          Optional<String> holder = leases.stream()
              .filter(l -> l.partitionId().isPresent() && l.partitionId().getAsInt() == p.id())
              .map(Lease::owner).findFirst();
          out.printf("  partition %-3d GPU modules %-18s lease %s%n", p.id(), p.moduleIds(),
              holder.orElse("NONE"));
        }
        out.println();
      }
      out.println("GPUS");
      out.printf("  %-13s %-10s %-7s %-7s %-14s %s%n", "ADDRESS", "ID", "MODULE", "GROUP",
          "DRIVER", "LEASE");
      for (PciDevice gpu : topology.gpus()) {
        out.printf("  %-13s %-10s %-7s %-7s %-14s %s%n", gpu.address(), gpu.id(),
            moduleIds.moduleId(gpu.address()).map(String::valueOf).orElse("-"),
            gpu.iommuGroup().isPresent() ? String.valueOf(gpu.iommuGroup().getAsInt()) : "-",
            gpu.driver().orElse("none"), leaseOfDevice.getOrDefault(gpu.address().toString(), "-"));
      }
      out.println();
      ReconcileReport report = !host.sharedNvSwitch()
          ? ledger.reconcile(topology, ReconcilePolicy.REPORT_ONLY)
          : savedMap.isPresent()
              ? ledger.reconcile(topology, host.fabricManager(), savedMap.get(),
                  ReconcilePolicy.REPORT_ONLY)
              : ledger.reconcile(topology, host.fabricManager(), ReconcilePolicy.REPORT_ONLY);
      List<Discrepancy> found = report.discrepancies();
      out.println("INCONSISTENCIES");
      if (found.isEmpty()) {
        out.println("  none: every lease's devices and partition match the host");
      }
      found.forEach(d -> out.println("  ! " + d));
      out.flush();
      return found.isEmpty() ? Cli.OK : Cli.REFUSED;
    }
  }
}
