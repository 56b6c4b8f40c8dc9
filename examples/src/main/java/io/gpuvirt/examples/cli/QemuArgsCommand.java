package io.gpuvirt.examples.cli;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.qemu.command.Decision;
import io.gpuvirt.qemu.command.QemuArgs;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuvirt qemu-args --owner ID}: the QEMU command line for a lease, and why. */
@Command(name = "qemu-args", mixinStandardHelpOptions = true,
    description = {"Print the QEMU command for a lease and the plan that explains each choice:"
        + " a root port per GPU, large-BAR handling, the MMIO aperture, the firmware.",
        "--format shell prints only the command, shell-quoted, to paste into a shell;"
            + " --format libvirt prints only the libvirt domain XML of the same plan;"
            + " --plan prints only the plan."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:printed", "1:the owner holds no lease", "2:error"})
final class QemuArgsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--owner", required = true, paramLabel = "ID",
      converter = Cli.OwnerConverter.class, description = "The VM.")
  String owner;

  @Mixin HostOptions hostOptions;

  @Option(names = "--json", description = "Print argv and plan as JSON (as --format json).")
  boolean json;

  @Option(names = "--format", paramLabel = "text|shell|json|libvirt", defaultValue = "text",
      description = "text: the command, then the plan (default); shell: only the command, ready"
          + " to paste; json: argv and plan; libvirt: the domain XML (for virsh define).")
  String format;

  @Option(names = "--plan", description = "Print only the plan.")
  boolean planOnly;

  @Mixin QemuOptions qemu;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    if (!List.of("text", "shell", "json", "libvirt").contains(format)) {
      throw new InvalidValueException("--format '" + Cli.printable(format)
          + "' is not text, shell, json or libvirt");
    }
    String chosen = json ? "json" : format;
    if (planOnly && !chosen.equals("text")) {
      throw new InvalidValueException("--plan prints the plan as text; leave out --format "
          + chosen + (json ? " (--json)" : ""));
    }
    qemu.hostArchitecture(hostOptions.architecture());
    qemu.capabilities(); // a bad QEMU option fails before the ledger is read
    Path stateDirectory = hostOptions.stateDirectory();
    Optional<Lease> lease = LeaseLedger.open(stateDirectory).lease(owner);
    if (lease.isEmpty()) {
      return Cli.refuse(spec.commandLine(), chosen.equals("json"), owner + " holds no lease in "
          + stateDirectory + "; provision or allocate first");
    }
    if (chosen.equals("libvirt")) {
      out.print(qemu.libvirtPlanner().plan(lease.get()).domain().xml());
      out.flush();
      return Cli.OK;
    }
    QemuArgs args;
    try {
      args = qemu.render(lease.get());
    } catch (IllegalArgumentException | InvalidValueException e) {
      throw new GpuvirtException(e.getMessage(), e);
    }
    switch (chosen) {
      case "json" -> out.println(args.toJson());
      case "shell" -> out.print(args.toShell());
      default -> {
        if (!planOnly) {
          out.println("QEMU command (" + qemu.source + "):");
          out.print(args.toShell());
          out.println();
        }
        out.println("plan:");
        for (Decision d : args.plan()) {
          out.println("  " + d);
        }
      }
    }
    out.flush();
    return Cli.OK;
  }
}
