package io.gpuvirt.examples.cli;

import io.gpuvirt.core.ledger.Discrepancy;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.ledger.ReconcilePolicy;
import io.gpuvirt.core.ledger.ReconcileReport;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuvirt reconcile [--repair] [--root DIR] [--state DIR]}: compares leases with the host. */
@Command(name = "reconcile", mixinStandardHelpOptions = true,
    description = {"Compare the lease ledger with the host's driver bindings.",
        "Reports GPUs on a VFIO driver without a lease, leases whose devices are gone or changed,"
            + " and BOUND leases whose devices are not on a VFIO driver. With --repair, drops"
            + " stale leases; it never unbinds a device."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:the ledger and the host agree (after repairs)",
        "1:differences remain (listed on stdout)", "2:unreadable host or ledger"})
final class ReconcileCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--repair", description = "Drop stale leases (default: report only).")
  boolean repair;

  @Mixin HostOptions hostOptions;

  @Option(names = "--json", description = "Print {consistent, discrepancies, unresolved} as JSON.")
  boolean json;

  @Override
  public Integer call() {
    ReconcilePolicy policy = repair ? ReconcilePolicy.REPAIR : ReconcilePolicy.REPORT_ONLY;
    ReconcileReport report;
    try (HostContext host = hostOptions.open()) {
      LeaseLedger ledger = LeaseLedger.open(host.stateDirectory());
      // A repair runs under the operation lock, with the host scanned inside it: a provisioning
      // that commits between a scan and the repair must not look stale and lose its lease. A
      // report changes nothing and creates nothing, so it takes no lock.
      java.util.Optional<io.gpuvirt.core.fabric.ModuleIdMap> map =
          new io.gpuvirt.core.fabric.ModuleIdMapStore(host.stateDirectory()).load();
      java.util.function.Supplier<ReconcileReport> run = () -> !host.sharedNvSwitch()
          ? ledger.reconcile(host.scan(), policy)
          : map.isPresent() ? ledger.reconcile(host.scan(), host.fabricManager(), map.get(), policy)
              : ledger.reconcile(host.scan(), host.fabricManager(), policy);
      report = repair ? ledger.underOperationLock(run) : run.get();
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      com.fasterxml.jackson.databind.node.ObjectNode root =
          new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
      root.put("consistent", report.consistent());
      root.put("repair", repair);
      com.fasterxml.jackson.databind.node.ArrayNode all = root.putArray("discrepancies");
      report.discrepancies().forEach(d -> all.addObject().put("kind", d.kind().name())
          .put("subject", d.subject()).put("detail", d.toString()));
      com.fasterxml.jackson.databind.node.ArrayNode left = root.putArray("unresolved");
      report.unresolved().forEach(d -> left.addObject().put("kind", d.kind().name())
          .put("subject", d.subject()).put("detail", d.toString()));
      out.println(root.toPrettyString());
      out.flush();
      return report.consistent() ? Cli.OK : Cli.REFUSED;
    }
    for (Discrepancy d : report.discrepancies()) {
      out.println(d);
    }
    out.println(report.consistent() ? "consistent" : report.unresolved().size()
        + " difference(s) remain");
    out.flush();
    return report.consistent() ? Cli.OK : Cli.REFUSED;
  }
}
