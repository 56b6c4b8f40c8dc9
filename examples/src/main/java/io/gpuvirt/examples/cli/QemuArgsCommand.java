package io.gpuvirt.examples.cli;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.qemu.command.Decision;
import io.gpuvirt.qemu.command.QemuArgs;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuvirt qemu-args --owner ID}: the QEMU command line for a lease, and why. */
@Command(name = "qemu-args", mixinStandardHelpOptions = true,
    description = {"Print the QEMU argv for a lease (one option per line) and the plan that"
        + " explains each choice: a root port per GPU, large-BAR handling, the MMIO aperture."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:printed", "1:the owner holds no lease", "2:error"})
final class QemuArgsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--owner", required = true, paramLabel = "ID",
      converter = Cli.OwnerConverter.class, description = "The VM.")
  String owner;

  @Mixin HostOptions hostOptions;

  @Option(names = "--json", description = "Print argv and plan as JSON.")
  boolean json;

  @Mixin QemuOptions qemu;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Path stateDirectory = hostOptions.stateDirectory();
    Optional<Lease> lease = LeaseLedger.open(stateDirectory).lease(owner);
    if (lease.isEmpty()) {
      spec.commandLine().getErr().println("gpuvirt: " + owner + " holds no lease in "
          + stateDirectory + "; provision or allocate first");
      return Cli.REFUSED;
    }
    QemuArgs args;
    try {
      args = qemu.render(lease.get());
    } catch (IllegalArgumentException | InvalidValueException e) {
      throw new GpuvirtException(e.getMessage(), e);
    }
    if (json) {
      out.println(args.toJson());
    } else {
      QemuOptions.optionLines(args.argv()).forEach(out::println);
      out.println();
      out.println("# QEMU: " + qemu.source);
      for (Decision d : args.plan()) {
        out.println("# " + d);
      }
    }
    out.flush();
    return Cli.OK;
  }
}
