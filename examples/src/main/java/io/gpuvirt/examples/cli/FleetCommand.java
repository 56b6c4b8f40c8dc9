package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fleet.Fleet;
import io.gpuvirt.core.fleet.FleetAgent;
import io.gpuvirt.core.fleet.FleetHost;
import io.gpuvirt.core.fleet.FleetLease;
import io.gpuvirt.core.fleet.FleetRequest;
import io.gpuvirt.core.fleet.HostHoldsLeasesException;
import io.gpuvirt.core.fleet.HostInventory;
import io.gpuvirt.core.fleet.InventoryGpu;
import io.gpuvirt.core.fleet.JdbcSchema;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.provision.Provisioned;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt fleet migrate|register|allocate|list|release|agent --jdbc URL}: GPUs across many
 * hosts in one PostgreSQL database, through the library's {@link Fleet} and {@link FleetAgent}.
 */
@Command(name = "fleet", mixinStandardHelpOptions = true,
    description = {"Leases and GPU inventory of many hosts in one PostgreSQL database.",
        "The control plane allocates and releases; each host registers its inventory and runs the"
            + " agent, which provisions what the fleet assigned to it."},
    subcommands = {FleetCommand.Migrate.class, FleetCommand.Register.class,
        FleetCommand.Allocate.class, FleetCommand.ListFleet.class, FleetCommand.Release.class,
        FleetCommand.Agent.class, FleetCommand.Remove.class})
final class FleetCommand {
  private static final ObjectMapper JSON = new ObjectMapper();

  private FleetCommand() {}

  /** {@code --jdbc URL}, shared by every fleet command. */
  static final class Database {
    @Option(names = "--jdbc", required = true, paramLabel = "URL",
        description = {"The fleet database: jdbc:postgresql://HOST[:PORT]/DB[?user=U&"
            + "currentSchema=S...]. Give the password in ~/.pgpass (or PGPASSFILE), which the"
            + " PostgreSQL driver reads, not on the command line."})
    String url;

    /** The database, after checking that the URL is PostgreSQL's. */
    DataSource dataSource() {
      if (!url.startsWith("jdbc:postgresql:")) {
        throw new InvalidValueException("--jdbc must be a PostgreSQL JDBC URL starting with"
            + " jdbc:postgresql: (the fleet schema is PostgreSQL's), was '"
            + Cli.printable(url) + "'");
      }
      PGSimpleDataSource ds = new PGSimpleDataSource();
      try {
        ds.setURL(url);
      } catch (IllegalArgumentException e) {
        throw new InvalidValueException("--jdbc '" + Cli.printable(url) + "' is not a valid"
            + " PostgreSQL JDBC URL: " + e.getMessage());
      }
      ds.setConnectTimeout(10);
      ds.setSocketTimeout(60);
      ds.setApplicationName("gpuvirt");
      return ds;
    }

    /** The fleet in the database (its schema checked). */
    Fleet fleet() {
      return Fleet.open(dataSource());
    }

    /** The URL without its parameters (which may hold a user name), for messages. */
    String shown() {
      int q = url.indexOf('?');
      return Cli.printable(q < 0 ? url : url.substring(0, q));
    }
  }

  static final class HostName implements picocli.CommandLine.ITypeConverter<String> {
    @Override
    public String convert(String value) {
      try {
        return FleetHost.checkName(value);
      } catch (InvalidValueException e) {
        throw new picocli.CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  /** {@code gpuvirt fleet migrate --jdbc URL}. */
  @Command(name = "migrate", mixinStandardHelpOptions = true,
      description = {"Create or upgrade gpuvirt's tables in the fleet database (the SQL files"
          + " shipped under db/gpuvirt/, which Flyway can apply instead). Idempotent."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:the schema is current", "2:unreachable database, a newer schema, or bad"
          + " arguments"})
  static final class Migrate implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Database database;

    @Option(names = "--json", description = "Print {\"from\", \"to\"} as JSON.")
    boolean json;

    @Override
    public Integer call() {
      int from = JdbcSchema.migrate(database.dataSource());
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        ObjectNode o = JSON.createObjectNode();
        o.put("from", from);
        o.put("to", JdbcSchema.VERSION);
        out.println(o.toPrettyString());
      } else if (from == JdbcSchema.VERSION) {
        out.println("the gpuvirt schema in " + database.shown() + " is current (version "
            + from + ")");
      } else {
        out.println("migrated the gpuvirt schema in " + database.shown() + " from version " + from
            + " to " + JdbcSchema.VERSION);
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt fleet register --jdbc URL --host NAME [--root DIR]}. */
  @Command(name = "register", mixinStandardHelpOptions = true,
      description = {"Publish this host's inventory (GPUs with ids, NUMA nodes, IOMMU groups and,"
          + " on a shared-NVSwitch host, module ids and partitions) and beat its heartbeat.",
          "Run it again whenever the host changes: an unchanged inventory changes nothing."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:published", "2:unreadable host, unreachable database, or bad arguments"})
  static final class Register implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Database database;
    @Mixin HostOptions hostOptions;

    @Option(names = "--host", required = true, paramLabel = "NAME", converter = HostName.class,
        description = "The host's name in the fleet.")
    String host;

    @Option(names = "--heartbeat", paramLabel = "SECONDS", defaultValue = "60",
        description = "How long the host stays allocatable without another heartbeat (default"
            + " ${DEFAULT-VALUE}); the agent beats on every round.")
    long heartbeatSeconds;

    @Option(names = "--json", description = "Print what was published as JSON.")
    boolean json;

    @Override
    public Integer call() {
      Duration deadline = heartbeat(heartbeatSeconds);
      Fleet fleet = database.fleet();
      HostInventory inventory;
      try (HostContext context = hostOptions.open()) {
        Optional<ModuleIdMap> moduleIds = Optional.empty();
        List<FabricPartition> partitions = List.of();
        if (context.sharedNvSwitch()) {
          moduleIds = Optional.of(context.gpuHost().moduleIds());
          partitions = context.fabricManager().listPartitions();
        }
        inventory = HostInventory.of(host, context.scan(), context.names(), moduleIds,
            partitions);
      }
      Fleet.PublishResult result = fleet.publish(inventory);
      fleet.heartbeat(host, deadline);
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        ObjectNode o = JSON.createObjectNode();
        o.put("host", host);
        o.put("changed", result.changed());
        o.put("gpus", inventory.gpus().size());
        o.put("partitions", inventory.partitions().size());
        ArrayNode kept = o.putArray("keptLeased");
        result.keptLeased().forEach(kept::add);
        out.println(o.toPrettyString());
      } else {
        out.println((result.changed() ? "published " : "unchanged: ") + host + ": "
            + inventory.gpus().size() + " GPUs, " + inventory.partitions().size()
            + " partitions; allocatable for " + heartbeatSeconds + " s without another"
            + " heartbeat");
        result.keptLeased().forEach(k -> out.println("  kept while leased: " + k));
      }
      out.flush();
      return Cli.OK;
    }
  }

  static Duration heartbeat(long seconds) {
    if (seconds < 1) {
      throw new InvalidValueException("--heartbeat must be at least 1 second, was " + seconds);
    }
    return Duration.ofSeconds(seconds);
  }

  /** {@code gpuvirt fleet allocate --jdbc URL --gpus N --owner ID [--model VID:DID]}. */
  @Command(name = "allocate", mixinStandardHelpOptions = true,
      description = {"Allocate N GPUs (a partition of N on shared-NVSwitch hosts) for an owner on"
          + " some live host: the fullest host that fits, the single-host best-fit rules on it,"
          + " one compare-and-set transaction. Idempotent by owner.",
          "The lease names its host, GPUs and epoch; that host's agent provisions it."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:the owner holds the lease (new or existing)",
          "1:refused: no live host can serve the request, or the owner holds another size",
          "2:unreachable database or bad arguments"})
  static final class Allocate implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Database database;

    @Option(names = "--gpus", required = true, paramLabel = "N", description = "How many GPUs.")
    int count;

    @Option(names = "--owner", required = true, paramLabel = "ID",
        converter = Cli.OwnerConverter.class, description = "Who the GPUs are for.")
    String owner;

    @Option(names = "--model", paramLabel = "VENDOR:DEVICE",
        description = "Only GPUs of this PCI id, such as 10de:2901.")
    Optional<String> model;

    @Option(names = "--numa-node", paramLabel = "N",
        description = "Every GPU on this NUMA node of its host.")
    Optional<Integer> numaNode;

    @Option(names = "--host", paramLabel = "NAME", converter = HostName.class,
        description = "Only this host (repeat for a choice of hosts).")
    List<String> hosts = List.of();

    @Option(names = "--json", description = "Print the lease as JSON.")
    boolean json;

    @Override
    public Integer call() {
      FleetRequest request = FleetRequest.of(owner, count);
      if (model.isPresent()) {
        request = request.withModel(PciId.parse(model.get()));
      }
      if (numaNode.isPresent()) {
        request = request.withNumaNode(numaNode.get());
      }
      if (!hosts.isEmpty()) {
        request = request.withHosts(hosts);
      }
      Fleet fleet = database.fleet();
      FleetLease lease;
      try {
        lease = fleet.allocate(request);
      } catch (AllocationRefusedException e) {
        return Cli.refuse(spec.commandLine(), json, e.getMessage());
      }
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        out.println(lease(lease).toPrettyString());
      } else {
        out.println(describe(lease));
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt fleet list --jdbc URL}. */
  @Command(name = "list", mixinStandardHelpOptions = true,
      description = {"List the fleet's hosts (liveness, free GPUs, the sizes they can serve) and"
          + " its leases."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:listed", "2:unreachable database or bad arguments"})
  static final class ListFleet implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Database database;

    @Option(names = "--json", description = "Print {\"hosts\", \"leases\"} as JSON.")
    boolean json;

    @Override
    public Integer call() {
      Fleet fleet = database.fleet();
      List<FleetHost> hosts = fleet.hosts();
      List<FleetLease> leases = fleet.leases();
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode h = o.putArray("hosts");
        hosts.forEach(x -> h.add(host(x)));
        ArrayNode l = o.putArray("leases");
        leases.forEach(x -> l.add(lease(x)));
        out.println(o.toPrettyString());
      } else {
        out.printf("%-24s %-6s %5s %5s %-10s %s%n", "HOST", "STATE", "GPUS", "FREE",
            "PARTITIONS", "FREE SIZES");
        for (FleetHost x : hosts) {
          out.printf("%-24s %-6s %5d %5d %-10d %s%n", x.name(), liveness(x), x.gpus(),
              x.freeGpus(), x.partitions(), x.freeSizes().isEmpty() ? "-"
                  : x.freeSizes().stream().map(String::valueOf).collect(Collectors.joining(",")));
        }
        out.println();
        out.printf("%-24s %-24s %5s %6s %-11s %s%n", "OWNER", "HOST", "GPUS", "EPOCH", "STATE",
            "PARTITION");
        for (FleetLease x : leases) {
          out.printf("%-24s %-24s %5d %6d %-11s %s%n", x.owner(), x.host(), x.gpuCount(),
              x.epoch(), x.state(), x.partitionId().isPresent()
                  ? String.valueOf(x.partitionId().getAsInt()) : "-");
        }
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt fleet release --jdbc URL --owner ID}. */
  @Command(name = "release", mixinStandardHelpOptions = true,
      description = {"Release the owner's fleet lease (after its VM has stopped): the next agent"
          + " round on its host gives the devices back. Idempotent."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:the owner holds no fleet lease now", "2:unreachable database or bad"
          + " arguments"})
  static final class Release implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Database database;

    @Option(names = "--owner", required = true, paramLabel = "ID",
        converter = Cli.OwnerConverter.class, description = "The owner.")
    String owner;

    @Option(names = "--json", description = "Print {\"owner\", \"released\", \"lease\"} as JSON.")
    boolean json;

    @Override
    public Integer call() {
      Optional<FleetLease> released = database.fleet().release(owner);
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        ObjectNode o = JSON.createObjectNode();
        o.put("owner", owner);
        o.put("released", released.isPresent());
        if (released.isPresent()) {
          o.set("lease", lease(released.get()));
        } else {
          o.putNull("lease");
        }
        out.println(o.toPrettyString());
      } else if (released.isPresent()) {
        out.println("released " + owner + " (" + released.get().gpuCount() + " GPUs on "
            + released.get().host() + ", epoch " + released.get().epoch() + "); the agent on "
            + released.get().host() + " gives the devices back on its next round");
      } else {
        out.println(owner + " holds no fleet lease; nothing to release");
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt fleet agent --jdbc URL --host NAME [--root DIR]}. */
  @Command(name = "agent", mixinStandardHelpOptions = true,
      description = {"Run one round of this host's agent: beat, tear down what the fleet no"
          + " longer assigns here, provision what it assigned (fenced by each lease's epoch),"
          + " report back. Run it from a timer more often than --heartbeat.",
          "With the database unreachable it changes nothing and exits 1."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:the round ran (see the output for failed leases)",
          "1:the fleet database was unreachable; nothing was changed",
          "2:unreadable host, a host never registered, or bad arguments"})
  static final class Agent implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Database database;
    @Mixin HostOptions hostOptions;

    @Option(names = "--host", required = true, paramLabel = "NAME", converter = HostName.class,
        description = "The host's name in the fleet (as registered).")
    String host;

    @Option(names = "--heartbeat", paramLabel = "SECONDS", defaultValue = "60",
        description = "How long the host stays allocatable after this round (default"
            + " ${DEFAULT-VALUE}).")
    long heartbeatSeconds;

    @Option(names = "--json", description = "Print the round as JSON.")
    boolean json;

    @Override
    public Integer call() {
      Duration deadline = heartbeat(heartbeatSeconds);
      Fleet fleet = database.fleet();
      FleetAgent.Round round;
      try (HostContext context = hostOptions.open()) {
        round = FleetAgent.builder(fleet, host, context.gpuHost().provisioner(),
            context.gpuHost().ledger()).heartbeat(deadline).build()
            .reconcile();
      }
      if (!round.reachable()) {
        return Cli.refuse(spec.commandLine(), json, "the fleet database " + database.shown()
            + " is unreachable; nothing was changed on " + host + ": "
            + round.error().orElse(""));
      }
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        out.println(round(round).toPrettyString());
      } else {
        round.provisionedOwners().forEach(o -> out.println("provisioned " + o));
        round.tornDown().forEach((o, why) -> out.println("tore down " + o + ": " + why));
        round.failed().forEach((o, why) -> out.println("failed " + o + ": " + why));
        round.skipped().forEach((o, why) -> out.println("left for the next round " + o + ": "
            + why));
        round.unchanged().forEach(o -> out.println("unchanged " + o));
        if (round.settled() && round.unchanged().isEmpty()) {
          out.println(host + " holds no fleet leases");
        }
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt fleet remove --jdbc URL --host NAME}. */
  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = {"Remove a host from the fleet (decommissioned or renamed): its GPUs,"
          + " partitions and row. Refused while it holds leases. Idempotent."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:the host is not in the fleet now",
          "1:refused: the host holds leases (named on stderr)",
          "2:unreachable database or bad arguments"})
  static final class Remove implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Database database;

    @Option(names = "--host", required = true, paramLabel = "NAME", converter = HostName.class,
        description = "The host's name in the fleet.")
    String host;

    @Option(names = "--json", description = "Print {\"host\", \"removed\"} as JSON.")
    boolean json;

    @Override
    public Integer call() {
      Fleet fleet = database.fleet();
      boolean removed;
      try {
        removed = fleet.remove(host);
      } catch (HostHoldsLeasesException e) {
        return Cli.refuse(spec.commandLine(), json, e.getMessage());
      }
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        ObjectNode o = JSON.createObjectNode();
        o.put("host", host);
        o.put("removed", removed);
        out.println(o.toPrettyString());
      } else {
        out.println(removed ? "removed " + host + " from the fleet"
            : host + " is not in the fleet; nothing to remove");
      }
      out.flush();
      return Cli.OK;
    }
  }

  private static String liveness(FleetHost h) {
    if (h.lost()) {
      return "lost";
    }
    return h.heartbeatDeadline().map(d -> d.isAfter(java.time.Instant.now()) ? "live" : "late")
        .orElse("new");
  }

  static String describe(FleetLease lease) {
    StringBuilder s = new StringBuilder();
    s.append(lease.owner()).append(": ").append(lease.gpuCount()).append(" GPUs on ")
        .append(lease.host()).append(", epoch ").append(lease.epoch()).append(", ")
        .append(lease.state());
    lease.partitionId().ifPresent(p -> s.append(", partition ").append(p));
    for (InventoryGpu g : lease.gpus()) {
      s.append("\n  ").append(g.address()).append(' ').append(g.id()).append(' ')
          .append(g.model()).append(", NUMA node ").append(g.numaNode()).append(", IOMMU group ")
          .append(g.iommuGroup());
      g.moduleId().ifPresent(m -> s.append(", module ").append(m));
    }
    return s.toString();
  }

  static ObjectNode lease(FleetLease lease) {
    ObjectNode o = JSON.createObjectNode();
    o.put("owner", lease.owner());
    o.put("host", lease.host());
    o.put("epoch", lease.epoch());
    o.put("gpuCount", lease.gpuCount());
    if (lease.partitionId().isPresent()) {
      o.put("partitionId", lease.partitionId().getAsInt());
    } else {
      o.putNull("partitionId");
    }
    o.put("state", lease.state().name());
    o.put("createdAt", lease.createdAt().toString());
    ArrayNode gpus = o.putArray("gpus");
    for (InventoryGpu g : lease.gpus()) {
      ObjectNode n = gpus.addObject();
      n.put("address", g.address().toString());
      n.put("id", g.id().toString());
      n.put("model", g.model());
      n.put("numaNode", g.numaNode());
      n.put("iommuGroup", g.iommuGroup());
      if (g.moduleId().isPresent()) {
        n.put("moduleId", g.moduleId().getAsInt());
      } else {
        n.putNull("moduleId");
      }
    }
    return o;
  }

  static ObjectNode host(FleetHost h) {
    ObjectNode o = JSON.createObjectNode();
    o.put("name", h.name());
    o.put("state", liveness(h));
    o.put("heartbeatAt", h.heartbeatAt().map(Object::toString).orElse(null));
    o.put("heartbeatDeadline", h.heartbeatDeadline().map(Object::toString).orElse(null));
    o.put("gpus", h.gpus());
    o.put("freeGpus", h.freeGpus());
    o.put("partitions", h.partitions());
    ArrayNode sizes = o.putArray("freeSizes");
    h.freeSizes().forEach(sizes::add);
    return o;
  }

  static ObjectNode round(FleetAgent.Round round) {
    ObjectNode o = JSON.createObjectNode();
    o.put("host", round.host());
    ArrayNode p = o.putArray("provisioned");
    round.provisionedOwners().forEach(p::add);
    reasons(o.putObject("tornDown"), round.tornDown());
    reasons(o.putObject("failed"), round.failed());
    reasons(o.putObject("skipped"), round.skipped());
    ArrayNode u = o.putArray("unchanged");
    round.unchanged().forEach(u::add);
    ObjectNode plans = o.putObject("groups");
    for (Provisioned done : round.provisioned()) {
      ArrayNode g = plans.putArray(done.lease().owner());
      done.lease().groupNumbers().forEach(g::add);
    }
    return o;
  }

  private static void reasons(ObjectNode into, Map<String, String> reasons) {
    reasons.forEach(into::put);
  }
}
