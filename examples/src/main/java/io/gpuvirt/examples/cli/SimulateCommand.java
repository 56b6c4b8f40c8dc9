package io.gpuvirt.examples.cli;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt simulate --profile hgx-b200 --out DIR}: writes a simulated host (a sysfs tree,
 * {@code /proc/cmdline}, {@code /etc}, {@code fabricmanager.cfg}) into DIR and keeps it there, for
 * lspci, for gpuvirt commands pointed at DIR as host root, and for demos.
 */
@Command(name = "simulate", mixinStandardHelpOptions = true,
    description = {"Write a simulated host into a directory: a sysfs tree that lspci and gpuvirt "
        + "read like the real /sys, plus /proc/cmdline, /etc and fabricmanager.cfg.",
        "Read it with: lspci -tv -A linux-sysfs -O sysfs.path=DIR/sys/bus/pci"})
public final class SimulateCommand implements Callable<Integer> {
  @Option(names = "--profile", required = true, paramLabel = "NAME",
      description = "Host to simulate: ${COMPLETION-CANDIDATES}.",
      completionCandidates = Profiles.class)
  private String profile;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "Directory to write the host root into (created; must be empty).")
  private Path out;

  @Spec
  private CommandSpec spec;

  @Option(names = "--json", description = "Print {profile, root, devices, gpus, nvSwitches,"
      + " iommuGroups, fabricMode} as JSON.")
  private boolean json;

  /** The preset names, for help and completion. */
  static final class Profiles extends java.util.ArrayList<String> {
    private static final long serialVersionUID = 1L;

    Profiles() {
      super(HostProfile.presetNames());
    }
  }

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    HostProfile hostProfile;
    try {
      hostProfile = HostProfile.preset(profile);
    } catch (IllegalArgumentException | InvalidValueException e) {
      err.println("gpuvirt: " + e.getMessage());
      if (json) {
        Cli.printJsonError(spec.commandLine(), "invalid-value", e.getMessage(), Cli.ERROR);
      }
      return Cli.ERROR;
    }
    PrintWriter o = spec.commandLine().getOut();
    try (SimulatedHost host = SimulatedHost.create(hostProfile, out)) {
      Topology t = host.expectedTopology();
      Map<String, Long> gpuIds = new TreeMap<>(t.gpus().stream()
          .collect(Collectors.groupingBy(d -> d.id().toString(), Collectors.counting())));
      if (json) {
        com.fasterxml.jackson.databind.node.ObjectNode doc =
            new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        doc.put("profile", hostProfile.name()).put("root", host.root().toString())
            .put("devices", t.devices().size()).put("gpus", t.gpus().size())
            .put("nvSwitches", t.nvSwitches().size())
            .put("iommuGroups", t.iommuGroups().size());
        gpuIds.forEach(doc.putObject("gpuIds")::put);
        if (hostProfile.fabricMode().isPresent()) {
          doc.put("fabricMode", hostProfile.fabricMode().getAsInt());
        } else {
          doc.putNull("fabricMode");
        }
        o.println(doc.toPrettyString());
        o.flush();
        return Cli.OK;
      }
      o.printf("Simulated host %s written to %s%n", hostProfile.name(), host.root());
      o.printf("  %d PCI functions on %d root buses; %d GPUs %s; %d NVSwitches%n",
          t.devices().size(), t.rootBuses().size(), t.gpus().size(), gpuIds,
          t.nvSwitches().size());
      o.printf("  IOMMU: %s; NUMA nodes %s%n", t.iommuEnabled() ? t.iommuGroups().size()
          + " groups" : "off (no groups)", t.numaNodes());
      o.printf("  GPU drivers: %s%n", t.gpus().stream().map(PciDevice::driver)
          .map(d -> d.orElse("none")).distinct().sorted().collect(Collectors.joining(", ")));
      o.printf("  kernel command line: %s%n", hostProfile.cmdline());
      o.printf("  Fabric Manager: %s%n", hostProfile.fabricMode().isPresent()
          ? "FABRIC_MODE=" + hostProfile.fabricMode().getAsInt() : "not installed");
      o.printf("Read it with:%n  lspci -tv -A linux-sysfs -O sysfs.path=%s%n",
          host.root().resolve("sys/bus/pci"));
    }
    return Cli.OK;
  }
}
