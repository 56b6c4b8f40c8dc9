package io.gpuvirt.examples.cli;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import java.util.ArrayList;
import java.util.List;
import io.gpuvirt.core.ledger.LeaseJson;
import io.gpuvirt.core.ledger.LeaseLedger;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuvirt release --owner ID [--state DIR] [--json]}: drops the owner's lease. */
@Command(name = "release", mixinStandardHelpOptions = true,
    description = {"Release the owner's lease in the lease ledger.",
        "Idempotent: releasing an owner without a lease succeeds and changes nothing. Changes"
            + " nothing on the host: give the devices back to their drivers first."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:the owner holds no lease now", "2:bad arguments, or a corrupt or newer"
        + " ledger"})
final class ReleaseCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--owner", required = true, paramLabel = "ID",
      converter = Cli.OwnerConverter.class, description = "The owner.")
  String owner;

  @Mixin HostOptions hostOptions;

  @Option(names = "--json", description = "Print {\"owner\", \"released\", \"lease\"} as JSON.")
  boolean json;

  @Override
  public Integer call() {
    LeaseLedger ledger = LeaseLedger.open(hostOptions.stateDirectory());
    PrintWriter out = spec.commandLine().getOut();
    // Only a reservation may simply be dropped: a provisioned (or half-provisioned) lease is the
    // only record of the drivers and partition to give back, so it goes through teardown.
    List<Lease> refused = new ArrayList<>();
    Optional<Lease> released = ledger.underOperationLock(() -> {
      Optional<Lease> lease = ledger.lease(owner);
      if (lease.isPresent() && lease.get().state() != LeaseState.ALLOCATED) {
        refused.add(lease.get());
        return Optional.<Lease>empty();
      }
      return ledger.release(owner);
    });
    if (!refused.isEmpty()) {
      return Cli.refuse(spec.commandLine(), json, "refused: " + owner + "'s lease is "
          + refused.get(0).state() + ": its devices may be bound to VFIO or its partition"
          + " active; give them back with 'gpuvirt teardown --owner " + owner + "'"
          + hostOptions.rootArgument());
    }
    if (json) {
      out.print(LeaseText.pretty("{\"owner\":\"" + owner + "\",\"released\":"
          + released.isPresent() + ",\"lease\":" + released.map(LeaseJson::of).orElse("null")
          + "}"));
    } else if (released.isPresent()) {
      out.println("released " + owner + ": IOMMU groups " + released.get().groupNumbers().stream()
          .map(String::valueOf).collect(java.util.stream.Collectors.joining(",")));
    } else {
      out.println(owner + " holds no lease; nothing to release");
    }
    out.flush();
    return Cli.OK;
  }
}
