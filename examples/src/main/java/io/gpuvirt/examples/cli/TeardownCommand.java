package io.gpuvirt.examples.cli;

import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.ProvisioningException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuvirt teardown --owner ID}: reverses {@code provision} once the VM is gone. */
@Command(name = "teardown", mixinStandardHelpOptions = true,
    description = {"Give a VM's GPUs back: restore their drivers, deactivate the partition,"
        + " release the lease. Run it after the VM's QEMU process has exited. Without --root it"
        + " works on the simulated HGX B200 that provision uses."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:torn down, or nothing to tear down",
        "1:stopped or failed, as the message says: the lease disagrees with the host (nothing"
            + " changed, the lease is still BOUND); or a step failed and was rolled back (the lease"
            + " is BOUND again: retry); or the rollback failed too (the lease stays TEARING_DOWN"
            + " for 'gpuvirt recover')",
        "2:error: bad arguments, an unreadable host or state"})
final class TeardownCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--owner", required = true, paramLabel = "ID",
      converter = Cli.OwnerConverter.class, description = "The VM.")
  String owner;

  @Mixin HostOptions hostOptions;

  @Option(names = "--json", description = "Print {owner, tornDown, host} as JSON (progress goes"
      + " to stderr).")
  boolean json;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    PrintWriter out = json ? err : spec.commandLine().getOut();
    try (HostContext host = hostOptions.open()) {
      Provisioner.Builder builder = host.gpuHost().provisionerBuilder().listener(e -> {
        if (e.kind() != ProgressEvent.Kind.STARTED) {
          out.println("  " + e);
        }
      });
      out.println("host: " + host.describe());
      try {
        boolean held;
        if (host.gpuHost().ledger().lease(owner).filter(l -> !l.migs().isEmpty()).isPresent()) {
          // MIG GPU instances go back through the driver (nvidia-smi)
          held = io.gpuvirt.core.mig.MigProvisioner.on(MigCommand.backend(host),
              host.gpuHost().ledger()).teardown(owner).isPresent();
        } else {
          held = builder.build().teardown(owner);
        }
        if (json) {
          PrintWriter stdout = spec.commandLine().getOut();
          stdout.println(new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode()
              .put("owner", owner).put("tornDown", held).put("host", host.describe())
              .toPrettyString());
          stdout.flush();
        } else {
          out.println(held ? owner + " torn down" : owner + " holds no lease; nothing to do");
        }
        out.flush();
        return Cli.OK;
      } catch (ProvisioningException | io.gpuvirt.core.mig.MigBackendException e) {
        out.flush();
        return Cli.refuse(spec.commandLine(), json, e.getMessage());
      }
    }
  }
}
