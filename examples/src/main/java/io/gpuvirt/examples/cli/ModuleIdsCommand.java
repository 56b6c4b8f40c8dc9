package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.ModuleIdMapStore;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.fabric.moduleid.ModuleIdDiscovery;
import io.gpuvirt.fabric.moduleid.ModuleIdDiscoveryException;
import io.gpuvirt.fabric.moduleid.NvidiaSmiReport;
import io.gpuvirt.core.gpuhost.GpuHost;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt module-ids}: discovers which GPU has which module id (the ids Fabric Manager
 * partitions name) from {@code nvidia-smi -q}, cross-checks it with NVML where NVML is there,
 * checks it against the host's GPUs and keeps it in the state directory. Run it while every GPU is
 * on the nvidia driver. Exit 0 on success, 1 when the host cannot give a complete, consistent map
 * (the reason on stderr), 2 on any other error.
 */
@Command(name = "module-ids", mixinStandardHelpOptions = true,
    description = "Discover and save the GPU module-id map (module id <-> PCI address).")
final class ModuleIdsCommand implements Callable<Integer> {
  /**
   * Where the command learns the host's GPUs to check the map against: by default the
   * physical-function GPUs under {@code /sys/bus/pci/devices}, or empty when the host root has no
   * PCI tree (a topology scanner's GPUs fit here just as well).
   */
  private final Function<Sysfs, Optional<Set<PciAddress>>> hostGpus;

  @Spec CommandSpec spec;

  @Option(names = "--root", paramLabel = "DIR", description = "Host root (default: the demo "
      + "simulated host under $TMPDIR/gpuvirt-demo when it exists, else /). When it holds a "
      + "simulated host (gpuvirt simulate), its fake nvidia-smi lists the GPUs of its own "
      + "simulated Fabric Manager (none without shared NVSwitch mode: exit 1); the map is kept "
      + "under the root.")
  Path root;

  @Option(names = "--nvidia-smi", paramLabel = "PATH", defaultValue = "nvidia-smi",
      description = "The nvidia-smi program (default: ${DEFAULT-VALUE}).")
  String nvidiaSmi;

  @Option(names = "--nvml-library", paramLabel = "PATH", description = "NVML to cross-check with "
      + "(default on a real host: libnvidia-ml.so.1, skipped if it cannot be loaded; none on a "
      + "simulated host).")
  String nvmlLibrary;

  @Option(names = {"--state", "--state-dir"}, paramLabel = "DIR", description = "Where to keep the map "
      + "(default: /var/lib/gpuvirt for /, else ROOT/var/lib/gpuvirt).")
  Path stateDir;

  @Option(names = "--json", description = "Print JSON.")
  boolean json;

  ModuleIdsCommand() {
    this(ModuleIdsCommand::sysfsGpus);
  }

  ModuleIdsCommand(Function<Sysfs, Optional<Set<PciAddress>>> hostGpus) {
    this.hostGpus = hostGpus;
  }

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path hostRoot = HostOptions.resolve(root, err);
    Sysfs sysfs = Sysfs.at(hostRoot);
    try {
      boolean simulated = HostContext.isSimulated(hostRoot);
      CommandRunner runner = CommandRunner.system();
      if (simulated) {
        // The library's facade: the simulated host's own Fabric Manager and nvidia-smi, if any.
        GpuHost host = GpuHost.builder(hostRoot).open();
        if (!host.hasFabricManager()) {
          return Cli.refuse(spec.commandLine(), json, "no Fabric Manager on this host ("
              + host.describe() + "): it is not in shared NVSwitch mode, so its GPUs have no"
              + " partitions to map module ids for");
        }
        runner = host.commands();
      }
      NvidiaSmiReport report = ModuleIdDiscovery.fromNvidiaSmi(runner, nvidiaSmi);
      ModuleIdMap map = report.moduleIds();
      Optional<String> nvml = Optional.ofNullable(nvmlLibrary)
          .or(() -> simulated ? Optional.empty() : Optional.of(ModuleIdDiscovery.NVML_LIBRARY));
      if (nvml.isPresent()) {
        try {
          map = ModuleIdDiscovery.crossCheck(map, nvidiaSmi + " -q",
              ModuleIdDiscovery.fromNvml(nvml.get()), "NVML");
        } catch (ModuleIdDiscoveryException e) {
          if (nvmlLibrary != null || !e.getMessage().startsWith("could not load NVML")) {
            throw e;
          }
          err.println("gpuvirt: note: NVML not available, not cross-checked ("
              + e.getMessage() + ")");
        }
      }
      Optional<Set<PciAddress>> gpus = hostGpus.apply(sysfs);
      if (gpus.isPresent()) {
        try {
          map.validateAgainst(gpus.get(), "host root " + hostRoot);
        } catch (GpuvirtException e) {
          throw new ModuleIdDiscoveryException(e.getMessage(), e);
        }
      } else {
        err.println("gpuvirt: note: " + hostRoot + " has no /sys/bus/pci/devices; the map is not "
            + "checked against the host's PCI devices");
      }
      ModuleIdMapStore store =
          new ModuleIdMapStore(HostContext.stateDirectory(hostRoot, stateDir));
      store.save(map);
      out.print(json ? json(map, report, store) : table(map, store));
      out.flush();
      return Cli.OK;
    } catch (ModuleIdDiscoveryException e) {
      return Cli.refuse(spec.commandLine(), json, e.getMessage());
    }
  }

  private static String table(ModuleIdMap map, ModuleIdMapStore store) {
    StringBuilder s = new StringBuilder(String.format("%-10s %s%n", "MODULE ID", "GPU"));
    map.byModuleId().forEach((id, gpu) -> s.append(String.format("%-10d %s%n", id, gpu)));
    return s.append("saved to ").append(store.file()).append(System.lineSeparator()).toString();
  }

  private static String json(ModuleIdMap map, NvidiaSmiReport report, ModuleIdMapStore store) {
    ObjectNode root = new ObjectMapper().createObjectNode();
    ObjectNode ids = root.putObject("moduleIds");
    map.byModuleId().forEach((id, gpu) -> ids.put(Integer.toString(id), gpu.toString()));
    report.driverVersion().ifPresent(v -> root.put("driverVersion", v));
    root.put("savedTo", store.file().toString());
    return root.toPrettyString() + System.lineSeparator();
  }

  /** NVIDIA GPUs (not virtual functions) of the host's topology; empty without a PCI tree. */
  static Optional<Set<PciAddress>> sysfsGpus(Sysfs sysfs) {
    if (!sysfs.isDirectory("/sys/bus/pci/devices")) {
      return Optional.empty();
    }
    Set<PciAddress> gpus = new TreeSet<>();
    for (PciDevice gpu : TopologyScanner.scan(sysfs).gpus()) {
      if (gpu.id().vendor() == PciId.NVIDIA && !gpu.isVirtualFunction()) {
        gpus.add(gpu.address());
      }
    }
    return Optional.of(gpus);
  }
}
