package io.gpuvirt.examples.cli;

import io.gpuvirt.core.provision.RecoveryReport;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuvirt recover}: finishes or undoes operations a crash interrupted. */
@Command(name = "recover", mixinStandardHelpOptions = true,
    description = {"Finish or undo provisioning and teardown operations that a crash interrupted"
        + " (run it at start-up): interrupted provisioning is rolled back, interrupted teardown"
        + " finished. Without --root it recovers this host (/)."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:nothing left interrupted", "1:some lease could not be recovered",
        "2:error"})
final class RecoverCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HostOptions hostOptions;

  @picocli.CommandLine.Option(names = "--json",
      description = "Print {clean, actions, failures} as JSON.")
  boolean json;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (HostContext host = hostOptions.open()) {
      RecoveryReport whole = host.gpuHost().provisioner().recover();
      // MIG leases: through the driver, and only where a MIG lease exists
      List<String> mig = host.gpuHost().ledger().leases().stream()
          .anyMatch(l -> !l.migs().isEmpty())
          ? io.gpuvirt.core.mig.MigProvisioner.on(MigCommand.backend(host),
              host.gpuHost().ledger()).recover() : List.of();
      // vGPU leases and VF types (and, in Fabric Manager vGPU mode, partitions): on vGPU hosts
      List<String> vgpu = VgpuCommand.devices(host).capabilities().isEmpty() ? List.of()
          : host.gpuHost().vgpuProvisioner().recover();
      List<String> actions = new java.util.ArrayList<>(whole.actions());
      actions.addAll(mig);
      actions.addAll(vgpu);
      RecoveryReport report = new RecoveryReport(actions, whole.failures());
      if (json) {
        com.fasterxml.jackson.databind.node.ObjectNode root =
            new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        root.put("clean", report.clean());
        report.actions().forEach(root.putArray("actions")::add);
        report.failures().forEach(root.putArray("failures")::add);
        out.println(root.toPrettyString());
        out.flush();
        return report.clean() ? Cli.OK : Cli.REFUSED;
      }
      report.actions().forEach(a -> out.println("recovered " + a));
      report.failures().forEach(f -> out.println("FAILED    " + f));
      if (report.actions().isEmpty() && report.failures().isEmpty()) {
        out.println("nothing was interrupted");
      }
      out.flush();
      return report.clean() ? Cli.OK : Cli.REFUSED;
    }
  }
}
