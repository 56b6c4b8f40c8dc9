package io.gpuvirt.examples.cli;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.RestartAwareFabricManager;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.ModuleIdMapStore;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.fabric.FabricManagerConfig;
import io.gpuvirt.fabric.moduleid.ModuleIdDiscovery;
import io.gpuvirt.fabric.nvfm.NvfmFabricManager;
import io.gpuvirt.fabric.nvfm.NvfmOptions;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.FakeNvidiaSmi;
import io.gpuvirt.testkit.fabric.NvidiaSmiFormat;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import io.gpuvirt.testkit.fabric.SimulatedGpu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The host a CLI command works on: a real host ({@code --root /}) or a simulated one (a directory
 * written by {@code gpuvirt simulate} or by {@code provision} itself), with its sysfs seam, state
 * directory and, in shared NVSwitch mode, its Fabric Manager and module-id map.
 *
 * <p>On a simulated host every write goes through the testkit's kernel model, so driver changes
 * behave as on Linux; on a real host through plain sysfs.
 */
final class HostContext implements AutoCloseable {
  /** Where {@code provision} keeps its simulated HGX B200 when no --root is given. */
  static final Path DEMO_ROOT = Path.of(System.getProperty("java.io.tmpdir"), "gpuvirt-demo",
      "hgx-b200");

  private final Path root;
  private final Optional<SimulatedHost> simulated;
  private final Sysfs sysfs;
  private final Path stateDirectory;
  private final boolean created;
  private FabricManager fabricManager;

  private HostContext(Path root, Optional<SimulatedHost> simulated, Path stateDirectory,
      boolean created) {
    this.root = root;
    this.simulated = simulated;
    this.sysfs = simulated.map(SimulatedHost::sysfs).orElseGet(() -> Sysfs.at(root));
    this.stateDirectory = stateDirectory;
    this.created = created;
  }

  /** The host at {@code root}, simulated if a simulated host was written there. */
  static HostContext open(Path root, Path state) {
    requireHostRoot(root);
    Optional<SimulatedHost> simulated = isSimulated(root)
        ? Optional.of(SimulatedHost.open(root)) : Optional.empty();
    return new HostContext(root, simulated, stateDirectory(root, state), false);
  }

  /**
   * Refuses a {@code --root} that is empty or not a sysfs tree (a simulated host is one), before
   * anything is written: no state directory, no demo host, nothing in the current directory.
   */
  static void requireHostRoot(Path root) {
    if (root.toString().isEmpty()) {
      throw new GpuvirtException("--root is empty; pass / for this host or the directory of a"
          + " simulated host");
    }
    TopologyScanner.requireSysfsTree(Sysfs.at(root));
  }

  /**
   * The host at {@code root}; with no root, the demo HGX B200 under {@link #DEMO_ROOT}, written
   * fresh when it does not exist yet (so a later {@code teardown} finds the same host).
   */
  static HostContext openOrCreateDemo(Optional<Path> root, Path state) {
    return openDemo(root, state, true);
  }

  /**
   * The host at {@code root}; with no root, the demo HGX B200 under {@link #DEMO_ROOT}, which must
   * exist already (teardown and status never invent a host to report on).
   */
  static HostContext openExistingDemo(Optional<Path> root, Path state) {
    return openDemo(root, state, false);
  }

  private static HostContext openDemo(Optional<Path> root, Path state, boolean create) {
    if (root.isPresent()) {
      return open(root.get(), state);
    }
    boolean created = false;
    if (!isSimulated(DEMO_ROOT) && !create) {
      throw new GpuvirtException("no --root given and no simulated demo host at " + DEMO_ROOT
          + " ('gpuvirt provision' without --root creates it); pass --root / for this host");
    }
    if (!isSimulated(DEMO_ROOT)) {
      try {
        Files.createDirectories(DEMO_ROOT);
      } catch (IOException e) {
        throw new GpuvirtException("cannot create the demo host directory " + DEMO_ROOT + ": "
            + e.getMessage() + "; pass --root DIR", e);
      }
      SimulatedHost.create(HostProfile.hgxB200(), DEMO_ROOT).close();
      created = true;
    }
    HostContext context = open(DEMO_ROOT, state);
    return new HostContext(context.root, context.simulated, context.stateDirectory, created);
  }

  static boolean isSimulated(Path root) {
    return SimulatedHost.isSimulatedHost(root);
  }

  /** {@code --state}, or /var/lib/gpuvirt on a real host, or ROOT/var/lib/gpuvirt on another root. */
  static Path stateDirectory(Path root, Path state) {
    if (state != null) {
      return state;
    }
    Path real = root.toAbsolutePath().normalize();
    return real.getParent() == null ? Path.of("/var/lib/gpuvirt")
        : real.resolve("var/lib/gpuvirt");
  }

  Path root() {
    return root;
  }

  Sysfs sysfs() {
    return sysfs;
  }

  Path stateDirectory() {
    return stateDirectory;
  }

  boolean simulated() {
    return simulated.isPresent();
  }

  /** Whether this call wrote the demo host fresh. */
  boolean created() {
    return created;
  }

  /** A line describing the host for output. */
  String describe() {
    return simulated.map(h -> "simulated " + h.profile().name() + " at " + root
        + (created ? " (created fresh)" : "")).orElse("host root " + root);
  }

  Topology scan() {
    return TopologyScanner.scan(sysfs);
  }

  /** Whether Fabric Manager is configured for shared NVSwitch multitenancy (FABRIC_MODE=1). */
  boolean sharedNvSwitch() {
    return HostMode.sharedNvSwitch(sysfs);
  }

  /**
   * The Fabric Manager: the simulated one of a simulated host; on a real host libnvfm at the
   * command address of {@code fabricmanager.cfg} (127.0.0.1:6666 when it names none). If it
   * restarted in resiliency mode, the first call tells it the partitions this host's leases hold.
   */
  FabricManager fabricManager() {
    if (fabricManager == null) {
      FabricManager raw = simulated.isPresent() ? SimulatedFabric.underHostRoot(root).connect()
          : NvfmFabricManager.connect(HostMode.fabricManagerConfig(sysfs)
              .flatMap(FabricManagerConfig::commandAddress)
              .map(NvfmOptions.defaults()::withAddress).orElse(NvfmOptions.defaults()));
      fabricManager = RestartAwareFabricManager.wrap(raw,
          () -> LeaseLedger.open(stateDirectory).leasedActivePartitionIds());
    }
    return fabricManager;
  }

  /**
   * The module-id map: the one kept in the state directory, or, when there is none, discovered
   * now from {@code nvidia-smi -q} (every GPU must still be on the nvidia driver) and kept.
   */
  ModuleIdMap moduleIds(Topology topology) {
    ModuleIdMapStore store = new ModuleIdMapStore(stateDirectory);
    Optional<ModuleIdMap> saved = store.load();
    if (saved.isPresent()) {
      // A saved map must still fit the host (a board swap or renumbered buses make it stale).
      return saved.get().validateAgainst(topology);
    }
    ModuleIdMap discovered = ModuleIdDiscovery.fromNvidiaSmi(nvidiaSmi(topology), "nvidia-smi")
        .moduleIds();
    discovered.validateAgainst(topology);
    store.save(discovered);
    return discovered;
  }

  /** Partition-aware allocation when the host shares NVSwitches. */
  Optional<PartitionContext> partitions(Topology topology) {
    if (!sharedNvSwitch()) {
      return Optional.empty();
    }
    return Optional.of(new PartitionContext(fabricManager(), moduleIds(topology)));
  }

  private CommandRunner nvidiaSmi(Topology topology) {
    if (simulated.isEmpty()) {
      return CommandRunner.system();
    }
    SimulatedFabric fabric = SimulatedFabric.underHostRoot(root);
    // nvidia-smi sees only the GPUs on the nvidia driver, as on a real host.
    Set<String> onNvidia = new TreeSet<>();
    for (PciDevice gpu : topology.gpus()) {
      if (gpu.driver().equals(Optional.of("nvidia"))) {
        onNvidia.add(gpu.address().toString());
      }
    }
    List<SimulatedGpu> gpus = fabric.gpus().stream()
        .filter(g -> onNvidia.contains(g.address().toString())).toList();
    return new FakeNvidiaSmi(() -> gpus, fabric.driverVersion(), NvidiaSmiFormat.PLATFORM_INFO);
  }

  @Override
  public void close() {
    if (fabricManager != null) {
      fabricManager.close();
    }
    simulated.ifPresent(SimulatedHost::close);
  }
}
