package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.GroupRefusedException;
import io.gpuvirt.core.vfio.VfioGroupNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt bind [--owner ID] [--driver NAME] BDF... [--allow BDF]... [--reset]} binds the IOMMU
 * groups of the devices to a VFIO driver as a lease; {@code gpuvirt bind --restore BDF...} ends the
 * binding leases that hold the devices, putting back the drivers they had. Both take
 * {@code [--root DIR] [--state DIR] [--json]}. The lease lives in the same ledger, under the same
 * lock and rules, as provisioning: a device bound here is never allocated to a VM, and a device a
 * VM holds cannot be bound here.
 */
@Command(name = "bind", mixinStandardHelpOptions = true,
    description = {"Bind the IOMMU groups of the given devices to vfio-pci (or a variant driver)"
        + " as a lease, or restore them to the drivers they had.",
        "Every endpoint of each device's group is bound (the audio function goes with its GPU);"
            + " a group with an endpoint that was not asked for is refused unless allowed with"
            + " --allow. The binding is a lease (owner --owner, by default bind-<first BDF>) in the"
            + " state directory's lease ledger, recording each device's driver, driver_override"
            + " and VFIO driver; --restore puts back exactly those and nothing else. A failure at"
            + " any step puts every device back where it was."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:bound (or already bound) / restored",
        "1:refused, nothing changed: a device leased to another owner or in use outside gpuvirt,"
            + " a foreign device in a group, the IOMMU off, or a restore of a device no binding"
            + " lease holds; or a step failed and was rolled back",
        "2:error: bad arguments, an unknown device, an unreadable host or state"})
final class BindCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "BDF",
      description = "PCI addresses (0000:17:00.0) of devices whose groups to bind or restore.")
  List<String> devices = new ArrayList<>();

  @Option(names = "--owner", paramLabel = "ID",
      description = "Who holds the binding (default: bind-<first BDF>, e.g."
          + " bind-0000:17:00.0).")
  String owner;

  @Option(names = "--driver", paramLabel = "NAME", defaultValue = BindRequest.VFIO_PCI,
      description = "The VFIO driver to bind to (default: ${DEFAULT-VALUE}; a variant such as"
          + " nvgrace-gpu-vfio-pci).")
  String driver;

  @Option(names = "--restore",
      description = "End the binding leases that hold the given devices: put their groups back on"
          + " the drivers (and driver_override) they had before.")
  boolean restore;

  @Option(names = "--allow", paramLabel = "BDF",
      description = "An endpoint that may be bound along with a requested device because it"
          + " shares its IOMMU group (a NIC behind a switch without ACS). Repeatable.")
  List<String> allow = new ArrayList<>();

  @Option(names = "--reset",
      description = "Function-reset each requested device that offers it, on its host driver,"
          + " before binding.")
  boolean reset;

  @Option(names = "--allow-mounted",
      description = "Bind even a device that backs a mounted filesystem (the boot disk, say);"
          + " without it such a device is refused, naming the block device and mount point.")
  boolean allowMounted;

  @Option(names = "--allow-non-vfio-driver",
      description = "Bind to a --driver that is not a VFIO driver (vfio-pci or a *-vfio-pci /"
          + " *_vfio_pci variant); without it such a driver is refused.")
  boolean allowNonVfioDriver;

  @Option(names = "--root", paramLabel = "DIR",
      description = "Host root that holds sys/ "
          + " (default: the demo simulated host under $TMPDIR/gpuvirt-demo when it exists,"
          + " else /).")
  Path root;

  @Option(names = "--state", paramLabel = "DIR",
      description = "State directory of the lease ledger (default: /var/lib/gpuvirt, or"
          + " <root>/var/lib/gpuvirt with --root).")
  Path state;

  @Option(names = "--json", description = "Print the result as JSON.")
  boolean json;

  @Override
  public Integer call() {
    if (restore && (spec.commandLine().getParseResult().hasMatchedOption("--driver")
        || !allow.isEmpty() || reset || owner != null || allowMounted || allowNonVfioDriver)) {
      throw new ParameterException(spec.commandLine(),
          "--restore takes only BDFs, --root, --state and --json (not --owner, --driver, --allow,"
              + " --reset or --allow-*): it puts back what the binding lease recorded");
    }
    List<PciAddress> addresses = devices.stream().map(PciAddress::parse).distinct().toList();
    List<PciAddress> allowed = allow.stream().map(PciAddress::parse).toList();
    String holder = owner == null ? LeaseLedger.bindOwner(addresses.get(0))
        : AllocationRequest.checkOwner(owner);
    BindRequest request = restore ? null : BindRequest.builder().devices(addresses)
        .allowForeignDevices(allowed).driver(driver).resetBeforeBind(reset)
        .allowMountedDevices(allowMounted).allowNonVfioDriver(allowNonVfioDriver).build();
    PrintWriter err = spec.commandLine().getErr();
    try (HostContext host = HostContext.open(HostOptions.resolve(root, err), state)) {
      io.gpuvirt.core.pci.Topology topology = host.scan();
      addresses.forEach(topology::require); // an unknown device is bad input, not a refusal
      LeaseLedger ledger = LeaseLedger.open(host.stateDirectory());
      Provisioner provisioner = Provisioner.builder(host.sysfs(), ledger).build();
      if (restore) {
        printRestored(provisioner.restore(addresses), ledger);
      } else {
        printBound(provisioner.bind(holder, request), ledger);
      }
      return Cli.OK;
    } catch (GroupRefusedException | AllocationRefusedException | ProvisioningException e) {
      return Cli.refuse(spec.commandLine(), json, "refused: " + e.getMessage());
    }
  }

  private void printBound(Provisioned result, LeaseLedger ledger) {
    PrintWriter out = spec.commandLine().getOut();
    Lease lease = result.lease();
    List<LeasedDevice> devices = lease.passedThroughDevices();
    if (json) {
      ObjectNode node = JSON.createObjectNode();
      node.put("operation", "bind");
      node.put("owner", lease.owner());
      node.put("driver", driver);
      node.put("alreadyBound", result.alreadyProvisioned()
          || devices.stream().noneMatch(LeasedDevice::movedByGpuvirt));
      ArrayNode list = node.putArray("devices");
      for (LeasedDevice d : devices) {
        ObjectNode n = list.addObject();
        n.put("address", d.address().toString());
        n.put("iommuGroup", groupOf(lease, d));
        n.put("originalDriver", d.originalDriver().orElse(null));
        n.put("originalOverride", d.originalOverride().orElse(null));
        n.put("driver", d.vfioDriver().orElse(driver));
        n.put("boundByGpuvirt", d.movedByGpuvirt());
      }
      ArrayNode groups = node.putArray("groups");
      for (VfioGroupNode g : result.vfioGroups()) {
        ObjectNode n = groups.addObject();
        n.put("iommuGroup", g.iommuGroup());
        n.put("groupNode", g.groupNode());
        ArrayNode cdevs = n.putArray("deviceNodes");
        g.deviceNodes().forEach(cdevs::add);
      }
      node.put("state", ledger.file().toString());
      out.println(node.toPrettyString());
    } else {
      for (LeasedDevice d : devices) {
        out.printf("%s  group %d  %s%n", d.address(), groupOf(lease, d), d.movedByGpuvirt()
            ? d.originalDriver().orElse("no driver") + " -> " + d.vfioDriver().orElse(driver)
            : "already on " + d.vfioDriver().orElse(driver) + ", left there");
      }
      for (VfioGroupNode g : result.vfioGroups()) {
        out.printf("group %d: %s%s%n", g.iommuGroup(), g.groupNode(), g.deviceNodes().isEmpty()
            ? "" : " (" + String.join(", ", g.deviceNodes()) + ")");
      }
      out.println((result.alreadyProvisioned() ? "nothing to do: already bound, " : "")
          + "held by " + lease.owner() + " in " + ledger.file() + "; undo with 'gpuvirt bind"
          + " --restore " + devices.get(0).address() + rootArgument() + "'");
    }
    out.flush();
  }

  private void printRestored(List<Lease> ended, LeaseLedger ledger) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      ObjectNode node = JSON.createObjectNode();
      node.put("operation", "restore");
      ArrayNode owners = node.putArray("owners");
      ArrayNode list = node.putArray("restored");
      ArrayNode left = node.putArray("untouched");
      for (Lease lease : ended) {
        owners.add(lease.owner());
        for (LeasedDevice d : lease.passedThroughDevices()) {
          ObjectNode n = (d.movedByGpuvirt() ? list : left).addObject();
          n.put("address", d.address().toString());
          n.put("iommuGroup", groupOf(lease, d));
          n.put("driver", d.originalDriver().orElse(null));
          if (!d.movedByGpuvirt()) {
            n.put("reason", "was already on " + d.originalDriver().orElse("no driver")
                + " before it was bound");
          }
        }
      }
      out.println(node.toPrettyString());
    } else {
      for (Lease lease : ended) {
        for (LeasedDevice d : lease.passedThroughDevices()) {
          out.printf("%s  group %d  %s%n", d.address(), groupOf(lease, d), d.movedByGpuvirt()
              ? d.vfioDriver().orElse("vfio") + " -> " + d.originalDriver().orElse("no driver")
                  + d.originalOverride().map(o -> " (driver_override " + o + ")").orElse("")
              : "left alone: was already on " + d.originalDriver().orElse("no driver"));
        }
        out.println(lease.owner() + " released from " + ledger.file());
      }
    }
    out.flush();
  }

  private static int groupOf(Lease lease, LeasedDevice d) {
    return lease.groups().stream().filter(g -> g.devices().contains(d)).findFirst().orElseThrow()
        .number();
  }

  private String rootArgument() {
    return HostOptions.argument(root);
  }
}
