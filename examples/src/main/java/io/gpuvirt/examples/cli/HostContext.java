package io.gpuvirt.examples.cli;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciNames;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The host a CLI command works on, opened through the library's {@link GpuHost}: a real host
 * ({@code --root /}) or a simulated one (a directory written by {@code gpuvirt simulate} or by
 * {@code provision} itself), with its Fabric Manager and module-id map as the facade chooses them.
 * Which root a command gets without {@code --root} is {@link HostOptions}' one rule.
 */
final class HostContext implements AutoCloseable {
  private final GpuHost host;
  private final boolean created;

  private HostContext(GpuHost host, boolean created) {
    this.host = host;
    this.created = created;
  }

  /**
   * Where the demo simulated HGX B200 lives: {@code $TMPDIR/gpuvirt-demo/hgx-b200}, or under
   * {@code java.io.tmpdir} when {@code TMPDIR} is not set.
   */
  static Path demoRoot() {
    String tmp = System.getenv("TMPDIR");
    Path base = tmp == null || tmp.isEmpty() ? Path.of(System.getProperty("java.io.tmpdir"))
        : Path.of(tmp);
    return base.resolve("gpuvirt-demo").resolve("hgx-b200");
  }

  /** The host at {@code root} (simulated if a simulated host was written there). */
  static HostContext open(Path root, Path state) {
    requireHostRoot(root);
    GpuHost.Builder builder = GpuHost.builder(root);
    if (state != null) {
      builder.stateDirectory(state);
    }
    return new HostContext(builder.open(), false);
  }

  /** Writes the demo HGX B200 at {@link #demoRoot()} and opens it. */
  static HostContext createDemo(Path state) {
    Path demo = demoRoot();
    try {
      Files.createDirectories(demo);
    } catch (IOException e) {
      throw new GpuvirtException("cannot create the demo host directory " + demo + ": "
          + e.getMessage() + "; pass --root DIR", e);
    }
    SimulatedHost.create(HostProfile.hgxB200(), demo).close();
    HostContext context = open(demo, state);
    return new HostContext(context.host, true);
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

  static boolean isSimulated(Path root) {
    return SimulatedHost.isSimulatedHost(root);
  }

  /** {@code --state}, or the facade's default for the root. */
  static Path stateDirectory(Path root, Path state) {
    return state != null ? state : GpuHost.defaultStateDirectory(root);
  }

  /** The library's facade for this host. */
  GpuHost gpuHost() {
    return host;
  }

  Path root() {
    return host.root();
  }

  Sysfs sysfs() {
    return host.sysfs();
  }

  /** Vendor and device names: the host's pci.ids and gpuvirt's own table (read once). */
  PciNames names() {
    if (names == null) {
      names = PciNames.load(host.sysfs());
    }
    return names;
  }

  private PciNames names;

  Path stateDirectory() {
    return host.stateDirectory();
  }

  boolean simulated() {
    return host.simulated();
  }

  /** Whether this call wrote the demo host fresh. */
  boolean created() {
    return created;
  }

  /** A line describing the host for output. */
  String describe() {
    return host.describe() + (created ? " (created fresh)" : "");
  }

  Topology scan() {
    return host.scan();
  }

  /** Whether the host has a Fabric Manager in shared NVSwitch mode. */
  boolean sharedNvSwitch() {
    return host.hasFabricManager();
  }

  /** The host's Fabric Manager, restart-aware, connected once. */
  FabricManager fabricManager() {
    return host.fabricManager();
  }

  /** Partition-aware allocation when the host shares NVSwitches. */
  Optional<PartitionContext> partitions() {
    return host.partitions();
  }

  @Override
  public void close() {
    host.close();
  }
}
