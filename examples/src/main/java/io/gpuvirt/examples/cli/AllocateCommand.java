package io.gpuvirt.examples.cli;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.alloc.Placement;
import io.gpuvirt.core.ledger.AllocationOptions;
import io.gpuvirt.core.ledger.LeaseJson;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciNames;
import io.gpuvirt.core.pci.Topology;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt allocate --gpus N --owner ID [--device SEL] [--placement P] [--allow BDF]...
 * [--root DIR] [--state DIR] [--json]}: reserves whole IOMMU groups for an owner in the lease
 * ledger. Changes nothing on the host.
 */
@Command(name = "allocate", mixinStandardHelpOptions = true,
    description = {"Reserve whole IOMMU groups for an owner in the lease ledger.",
        "Chooses by NUMA best fit and PCIe-switch locality, records the lease durably and prints"
            + " it. Asking again for the same owner and request returns the same lease. Changes"
            + " nothing on the host: binding to vfio-pci is a later step."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:the owner holds the lease (new or existing)",
        "1:refused: not enough free whole groups (or no free partition of that size on a shared"
            + " NVSwitch host), or the owner holds a different lease (the reason on stderr)",
        "2:bad arguments, unreadable host, or a corrupt or newer ledger"})
final class AllocateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--gpus", required = true, paramLabel = "N",
      description = "How many devices matching --device (exactly).")
  int count;

  @Option(names = "--owner", required = true, paramLabel = "ID",
      converter = Cli.OwnerConverter.class,
      description = "Who the devices are for, such as vm-42 (letters, digits, . _ : @ -).")
  String owner;

  @Option(names = "--device", paramLabel = "SELECTOR", defaultValue = "gpu",
      description = "gpu (default), vendor:device (10de:2901), class:XXXX (class:0302) or"
          + " comma-separated PCI addresses to choose among.")
  String device;

  @Option(names = "--placement", paramLabel = "P", defaultValue = "same-numa-node",
      converter = LeaseText.PlacementConverter.class,
      description = "same-numa-node (default: NUMA best fit, then tightest PCIe switch set),"
          + " same-pcie-switch, or spread.")
  Placement placement;

  @Option(names = "--allow", paramLabel = "BDF",
      description = "A foreign endpoint that may come along in a requested device's IOMMU group"
          + " (a NIC behind a switch without ACS). Repeatable.")
  List<String> allow = new ArrayList<>();

  @Option(names = "--expires-in", paramLabel = "SECONDS",
      description = "End the reservation by itself after this many seconds (recover and the next"
          + " allocation reclaim it); default: it lasts until released or provisioned.")
  Long expiresIn;

  @Mixin HostOptions hostOptions;

  @Option(names = "--json", description = "Print the lease as JSON.")
  boolean json;

  @Override
  public Integer call() {
    AllocationRequest.Builder request = AllocationRequest.builder(owner).count(count)
        .selector(DeviceSelector.parse(device)).placement(placement);
    allow.forEach(a -> request.allowForeign(PciAddress.parse(a)));
    AllocationRequest built = request.build();
    Lease lease;
    PciNames names;
    try (HostContext host = hostOptions.open()) {
      names = host.names();
      Topology topology = host.scan();
      LeaseLedger ledger = LeaseLedger.open(host.stateDirectory());
      Optional<PartitionContext> partitions = host.partitions();
      AllocationOptions options = AllocationOptions.defaults();
      if (partitions.isPresent()) {
        options = options.withPartitions(partitions.get());
      }
      if (expiresIn != null) {
        if (expiresIn < 1) {
          throw new ParameterException(spec.commandLine(),
              "--expires-in must be 1 second or more, was " + expiresIn);
        }
        options = options.withLifetime(Duration.ofSeconds(expiresIn));
      }
      lease = ledger.allocate(built, topology, options);
    } catch (AllocationRefusedException e) {
      return Cli.refuse(spec.commandLine(), json, "refused: " + e.getMessage());
    }
    PrintWriter out = spec.commandLine().getOut();
    out.print(json ? LeaseText.pretty(LeaseJson.of(lease)) : LeaseText.describe(lease, names));
    out.flush();
    return Cli.OK;
  }
}
