package io.gpuvirt.examples;

import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fleet.Fleet;
import io.gpuvirt.core.fleet.FleetAgent;
import io.gpuvirt.core.fleet.FleetHost;
import io.gpuvirt.core.fleet.FleetLease;
import io.gpuvirt.core.fleet.FleetRequest;
import io.gpuvirt.core.fleet.HostInventory;
import io.gpuvirt.core.fleet.JdbcSchema;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciNames;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A fleet of simulated hosts against one PostgreSQL database: three HGX B200 hosts and an HGX
 * H100 register their inventories, the control plane allocates VMs of 8, 4, 2, 1 and 8 B200s and
 * 2 H100s (by PCI id), each host's agent provisions what it was assigned, then everything is released
 * and the agents give the GPUs back. Run with a database of your own:
 * {@code java -cp examples/target/gpuvirt.jar io.gpuvirt.examples.FleetOfSimulatedHosts
 * 'jdbc:postgresql://127.0.0.1:5432/fleet?user=gpuvirt'} (the password from ~/.pgpass).
 * It creates gpuvirt's tables if they are missing, and leaves no lease behind.
 *
 * <p>Each host is opened through the library's facade ({@link GpuHost}), exactly as a platform's
 * host agent would open a real host: only the root directory differs.
 *
 * <ol>
 *   <li>Write the simulated hosts to a temporary directory; open each with {@link GpuHost}.</li>
 *   <li>Publish each host's inventory ({@link HostInventory#of}) with a heartbeat.</li>
 *   <li>Allocate from the control plane ({@link Fleet#allocate}): the fullest host that fits, the
 *       single-host best-fit rules on it (a whole partition of the size on NVSwitch hosts).</li>
 *   <li>Run one agent round per host ({@link FleetAgent#reconcile}): each provisions its leases
 *       (fenced by the lease's epoch) and reports them.</li>
 *   <li>Release every lease and run the agents again: the GPUs go back to their drivers; remove
 *       the hosts from the fleet ({@link Fleet#remove}).</li>
 * </ol>
 */
public final class FleetOfSimulatedHosts {
  private static final PciId B200 = PciId.parse("10de:2901");
  private static final PciId H100 = PciId.parse("10de:2330");

  private FleetOfSimulatedHosts() {}

  public static void main(String[] args) {
    if (args.length != 1 || !args[0].startsWith("jdbc:postgresql:")) {
      System.err.println("usage: FleetOfSimulatedHosts jdbc:postgresql://HOST[:PORT]/DB?user=U");
      System.exit(2);
    }
    PGSimpleDataSource db = new PGSimpleDataSource();
    db.setURL(args[0]);
    System.exit(run(db, System.out) ? 0 : 1);
  }

  /**
   * Runs the example against {@code db}, printing to {@code out}.
   *
   * @return whether every allocation was provisioned on its host and every host was back to no
   *     lease afterwards
   */
  public static boolean run(DataSource db, PrintStream out) {
    JdbcSchema.migrate(db); // creates or upgrades gpuvirt's tables; a no-op when current
    Fleet fleet = Fleet.open(db);
    String run = Long.toString(System.currentTimeMillis() % 1_000_000, 36);
    Path dir = temporaryDirectory();
    Map<String, HostProfile> profiles = new LinkedHashMap<>();
    for (int i = 1; i <= 3; i++) {
      profiles.put("b200-" + run + "-" + i, HostProfile.hgxB200());
    }
    profiles.put("h100-" + run + "-1", HostProfile.hgxH100());

    // 1. and 2. The hosts, their facades, their published inventories and their agents.
    Map<String, GpuHost> hosts = new LinkedHashMap<>();
    Map<String, FleetAgent> agents = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, HostProfile> e : profiles.entrySet()) {
        Path root = dir.resolve(e.getKey());
        SimulatedHost.create(e.getValue(), root).close();
        GpuHost host = GpuHost.open(root);
        hosts.put(e.getKey(), host);
        Optional<ModuleIdMap> modules = host.hasFabricManager() ? Optional.of(host.moduleIds())
            : Optional.empty();
        List<FabricPartition> partitions = host.hasFabricManager()
            ? host.fabricManager().listPartitions() : List.of();
        fleet.publish(HostInventory.of(e.getKey(), host.scan(), PciNames.load(host.sysfs()),
            modules, partitions));
        FleetAgent agent = FleetAgent.builder(fleet, e.getKey(), host.provisioner(),
            host.ledger()).heartbeat(Duration.ofMinutes(5)).build();
        agent.reconcile(); // the first round beats: the host is allocatable from now on
        agents.put(e.getKey(), agent);
      }
      out.println("Registered " + hosts.size() + " simulated hosts:");
      for (FleetHost h : fleet.hosts()) {
        if (hosts.containsKey(h.name())) {
          out.println("  " + h.name() + ": " + h.gpus() + " GPUs, " + h.partitions()
              + " partitions, request sizes free " + h.freeSizes());
        }
      }

      // 3. The control plane's allocations.
      List<FleetLease> leases = new ArrayList<>();
      int[] sizes = {8, 4, 2, 1, 8};
      for (int i = 0; i < sizes.length; i++) {
        leases.add(fleet.allocate(FleetRequest.of("vm-" + run + "-" + i, sizes[i])
            .withModel(B200)));
      }
      leases.add(fleet.allocate(FleetRequest.of("vm-" + run + "-h100", 2)
          .withModel(H100)));
      out.println("Allocated:");
      for (FleetLease l : leases) {
        out.println("  " + l.owner() + ": " + l.gpuCount() + " GPUs on " + l.host() + " (epoch "
            + l.epoch() + l.partitionId().stream().mapToObj(p -> ", partition " + p)
                .collect(Collectors.joining()) + ")");
      }

      // 4. One agent round per host provisions what the fleet assigned to it.
      boolean ok = true;
      out.println("Agent rounds:");
      for (FleetAgent agent : agents.values()) {
        FleetAgent.Round round = agent.reconcile();
        out.println("  " + agent.host() + ": provisioned " + round.provisionedOwners()
            + (round.failed().isEmpty() ? "" : ", failed " + round.failed()));
        ok &= round.failed().isEmpty() && round.skipped().isEmpty();
      }
      for (FleetLease l : leases) {
        FleetLease now = fleet.lease(l.owner()).orElseThrow();
        ok &= now.state() == FleetLease.State.PROVISIONED
            && hosts.get(l.host()).ledger().lease(l.owner()).isPresent();
      }

      // 5. Release everything; the agents give the GPUs back.
      leases.forEach(l -> fleet.release(l.owner()));
      out.println("Released " + leases.size() + " leases; agent rounds:");
      for (FleetAgent agent : agents.values()) {
        FleetAgent.Round round = agent.reconcile();
        out.println("  " + agent.host() + ": tore down " + round.tornDown().keySet());
        ok &= hosts.get(agent.host()).ledger().leases().isEmpty();
      }
      hosts.keySet().forEach(fleet::remove); // the simulated hosts go away with this run
      out.println(ok ? "Every lease was provisioned on its host and given back."
          : "Something did not go as expected: see above.");
      return ok;
    } finally {
      hosts.values().forEach(GpuHost::close);
      deleteTree(dir);
    }
  }

  private static Path temporaryDirectory() {
    try {
      String base = System.getProperty(SimulatedHost.TEMP_DIR_PROPERTY, "");
      return Files.createTempDirectory(Path.of(base.isBlank()
          ? System.getProperty("java.io.tmpdir") : base), "gpuvirt-fleet-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a directory for the simulated hosts", e);
    }
  }

  private static void deleteTree(Path dir) {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary directory: what is left is cleaned by the OS
    }
  }
}
