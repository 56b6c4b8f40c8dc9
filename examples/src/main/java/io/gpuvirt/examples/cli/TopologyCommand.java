package io.gpuvirt.examples.cli;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciNames;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyJson;
import io.gpuvirt.core.pci.TopologyScanner;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt topology [--root DIR] [--json]}: scans the host's PCI devices and IOMMU groups and
 * prints a summary and the device tree (as {@code lspci -tv} draws it), or the topology as JSON.
 */
@Command(name = "topology", mixinStandardHelpOptions = true,
    description = {"Scan the host's PCI devices and IOMMU groups from sysfs.",
        "Prints a one-line summary and the device tree (GPUs and NVSwitches with driver, IOMMU"
            + " group, NUMA node and BAR sizes), or the whole topology as JSON."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:the host was scanned", "2:the root is not a sysfs tree, or a file in it is"
        + " corrupt or unreadable (the file is named on stderr)"})
final class TopologyCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--root", paramLabel = "DIR",
      description = "Host root that holds sys/: / or a directory for a simulated host "
          + " (default: the demo simulated host under $TMPDIR/gpuvirt-demo when it exists,"
          + " else /).")
  Path root;

  @Option(names = "--json", description = "Print the topology as JSON instead of the tree.")
  boolean json;

  @Override
  public Integer call() {
    Sysfs sysfs = Sysfs.at(HostOptions.resolve(root, spec.commandLine().getErr()));
    Topology topology = TopologyScanner.scan(sysfs);
    PciNames names = PciNames.load(sysfs);
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      // The topology document, plus "names": {"10de:2901": "NVIDIA Corporation GB100 [B200]"}.
      try {
        com.fasterxml.jackson.databind.ObjectMapper mapper =
            new com.fasterxml.jackson.databind.ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode doc =
            (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(
                TopologyJson.toJson(topology));
        com.fasterxml.jackson.databind.node.ObjectNode named = doc.putObject("names");
        topology.devices().stream().map(PciDevice::id).distinct()
            .sorted(java.util.Comparator.comparing(Object::toString))
            .forEach(id -> named.put(id.toString(), names.describe(id)));
        out.println(doc.toPrettyString());
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new io.gpuvirt.core.GpuvirtException("cannot render the topology as JSON: "
            + e.getOriginalMessage(), e);
      }
    } else {
      out.println(topology.summary());
      out.print(topology.renderTree());
      out.println("Names (" + names.source().orElse("gpuvirt's own table") + "):");
      topology.devices().stream().map(PciDevice::id).distinct()
          .sorted(java.util.Comparator.comparing(Object::toString))
          .forEach(id -> out.println("  " + id + "  " + names.describe(id)));
    }
    out.flush();
    return Cli.OK;
  }
}
