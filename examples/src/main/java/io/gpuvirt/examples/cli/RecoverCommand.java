package io.gpuvirt.examples.cli;

import io.gpuvirt.core.provision.RecoveryReport;
import java.io.PrintWriter;
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

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (HostContext host = hostOptions.open()) {
      RecoveryReport report = host.gpuHost().provisioner().recover();
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
