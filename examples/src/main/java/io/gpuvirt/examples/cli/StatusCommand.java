package io.gpuvirt.examples.cli;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.ModuleIdMapStore;
import io.gpuvirt.core.ledger.Discrepancy;
import io.gpuvirt.core.ledger.LeaseJson;
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

  @Option(names = "--json", description = "Print {host, stateDirectory, leases, partitions, gpus,"
      + " inconsistencies, consistent} as JSON.")
  boolean json;

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

      ReconcileReport report = !host.sharedNvSwitch()
          ? ledger.reconcile(topology, ReconcilePolicy.REPORT_ONLY)
          : savedMap.isPresent()
              ? ledger.reconcile(topology, host.fabricManager(), savedMap.get(),
                  ReconcilePolicy.REPORT_ONLY)
              : ledger.reconcile(topology, host.fabricManager(), ReconcilePolicy.REPORT_ONLY);
      List<Discrepancy> found = report.discrepancies();
      if (json) {
        out.print(json(host, leases, partitions, topology, moduleIds, leaseOfDevice, found));
        out.flush();
        return found.isEmpty() ? Cli.OK : Cli.REFUSED;
      }
      out.println("host: " + host.describe());
      out.println();
      out.println("LEASES (" + host.stateDirectory() + ")");
      out.print(leases.isEmpty() ? "  none\n" : LeaseText.table(leases, host.names()));
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
      out.printf("  %-13s %-10s %-7s %-7s %-14s %-10s %s%n", "ADDRESS", "ID", "MODULE", "GROUP",
          "DRIVER", "LEASE", "NAME");
      for (PciDevice gpu : topology.gpus()) {
        out.printf("  %-13s %-10s %-7s %-7s %-14s %-10s %s%n", gpu.address(), gpu.id(),
            moduleIds.moduleId(gpu.address()).map(String::valueOf).orElse("-"),
            gpu.iommuGroup().isPresent() ? String.valueOf(gpu.iommuGroup().getAsInt()) : "-",
            gpu.driver().orElse("none"), leaseOfDevice.getOrDefault(gpu.address().toString(), "-"),
            host.names().describe(gpu.id()));
      }
      out.println();
      out.println("INCONSISTENCIES");
      if (found.isEmpty()) {
        out.println("  none: every lease's devices and partition match the host");
      }
      found.forEach(d -> out.println("  ! " + d));
      out.flush();
      return found.isEmpty() ? Cli.OK : Cli.REFUSED;
    }
  }

  private static String json(HostContext host, List<Lease> leases,
      Optional<List<FabricPartition>> partitions, Topology topology, ModuleIdMap moduleIds,
      Map<String, String> leaseOfDevice, List<Discrepancy> found) {
    com.fasterxml.jackson.databind.ObjectMapper mapper =
        new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode root = mapper.createObjectNode();
    root.put("host", host.describe());
    root.put("stateDirectory", host.stateDirectory().toString());
    try {
      root.set("leases", mapper.readTree(LeaseJson.of(leases)));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new io.gpuvirt.core.GpuvirtException("cannot render the leases as JSON: "
          + e.getOriginalMessage(), e);
    }
    if (partitions.isPresent()) {
      com.fasterxml.jackson.databind.node.ArrayNode active = root.putArray("activePartitions");
      for (FabricPartition p : partitions.get()) {
        if (!p.active()) {
          continue;
        }
        com.fasterxml.jackson.databind.node.ObjectNode o = active.addObject().put("id", p.id());
        p.moduleIds().forEach(o.putArray("moduleIds")::add);
        leases.stream().filter(l -> l.partitionId().isPresent()
            && l.partitionId().getAsInt() == p.id()).map(Lease::owner).findFirst()
            .ifPresentOrElse(owner -> o.put("lease", owner), () -> o.putNull("lease"));
      }
    } else {
      root.putNull("activePartitions");
    }
    com.fasterxml.jackson.databind.node.ArrayNode gpus = root.putArray("gpus");
    for (PciDevice gpu : topology.gpus()) {
      com.fasterxml.jackson.databind.node.ObjectNode g = gpus.addObject();
      g.put("address", gpu.address().toString());
      g.put("id", gpu.id().toString());
      g.put("name", host.names().describe(gpu.id()));
      moduleIds.moduleId(gpu.address()).ifPresentOrElse(m -> g.put("moduleId", m),
          () -> g.putNull("moduleId"));
      if (gpu.iommuGroup().isPresent()) {
        g.put("iommuGroup", gpu.iommuGroup().getAsInt());
      } else {
        g.putNull("iommuGroup");
      }
      gpu.driver().ifPresentOrElse(d -> g.put("driver", d), () -> g.putNull("driver"));
      String owner = leaseOfDevice.get(gpu.address().toString());
      if (owner == null) {
        g.putNull("lease");
      } else {
        g.put("lease", owner);
      }
    }
    com.fasterxml.jackson.databind.node.ArrayNode problems = root.putArray("inconsistencies");
    for (Discrepancy d : found) {
      problems.addObject().put("kind", d.kind().name()).put("subject", d.subject())
          .put("detail", d.toString());
    }
    root.put("consistent", found.isEmpty());
    return root.toPrettyString() + System.lineSeparator();
  }
}
