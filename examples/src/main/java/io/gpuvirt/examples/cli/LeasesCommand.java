package io.gpuvirt.examples.cli;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseJson;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciNames;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt leases [--owner ID] [--state DIR] [--compact] [--json]}: lists the lease ledger.
 */
@Command(name = "leases", mixinStandardHelpOptions = true,
    description = {"List the leases in the lease ledger, or show one owner's lease in full."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:listed", "1:--owner was given and holds no lease",
        "2:bad arguments, or a corrupt or newer ledger"})
final class LeasesCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--owner", paramLabel = "ID",
      converter = Cli.OwnerConverter.class, description = "Show only this owner's lease, in full.")
  Optional<String> owner;

  @Mixin HostOptions hostOptions;

  @Option(names = "--json", description = "Print the leases as a JSON array.")
  boolean json;

  @Option(names = "--compact", description = {"First fold the ledger's journal (leases.journal)"
      + " into leases.json, so that the file alone holds every lease: before reading or editing"
      + " it by hand. Takes the ledger's lock; run it with no other gpuvirt operation going."})
  boolean compact;

  @Override
  public Integer call() {
    LeaseLedger ledger = LeaseLedger.open(hostOptions.stateDirectory());
    PrintWriter out = spec.commandLine().getOut();
    if (compact) {
      int folded = ledger.compact();
      spec.commandLine().getErr().println("gpuvirt: folded " + folded + " journal commits into "
          + ledger.file());
      spec.commandLine().getErr().flush();
    }
    List<Lease> leases;
    if (owner.isPresent()) {
      Optional<Lease> lease = ledger.lease(owner.get());
      if (lease.isEmpty()) {
        return Cli.refuse(spec.commandLine(), json, owner.get() + " holds no lease in "
            + ledger.file());
      }
      leases = List.of(lease.get());
    } else {
      leases = ledger.leases();
    }
    if (json) {
      out.print(LeaseText.pretty(LeaseJson.of(leases)));
    } else if (owner.isPresent()) {
      out.print(LeaseText.describe(leases.get(0), PciNames.load(Sysfs.at(hostOptions.root()))));
    } else {
      out.print(LeaseText.table(leases, PciNames.load(Sysfs.at(hostOptions.root()))));
    }
    out.flush();
    return Cli.OK;
  }
}
