package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.PartitionGpu;
import io.gpuvirt.core.gpuhost.NoFabricManagerException;
import io.gpuvirt.core.ledger.LeaseLedger;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt partitions list|activate ID|deactivate ID [--force]}: NVIDIA Fabric Manager
 * partitions. Exit 0 on success, 1 when Fabric Manager refused (the return code by name on stderr)
 * or when {@code deactivate} is refused because a gpuvirt lease holds the partition, 2 on any
 * other error.
 */
@Command(name = "partitions", mixinStandardHelpOptions = true,
    description = "List, activate and deactivate NVIDIA Fabric Manager partitions "
        + "(shared NVSwitch mode).",
    subcommands = {PartitionsCommand.ListPartitions.class, PartitionsCommand.Activate.class,
        PartitionsCommand.Deactivate.class})
final class PartitionsCommand {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Runs {@code work} on a connected Fabric Manager; a refusal is exit 1 with its code. */
  static int withFabric(CommandSpec spec, FabricOptions options,
      Function<FabricManager, String> work) {
    PrintWriter out = spec.commandLine().getOut();
    try (FabricManager fm = options.open()) {
      out.print(work.apply(fm));
      out.flush();
      return Cli.OK;
    } catch (NoFabricManagerException e) {
      return Cli.refuse(spec.commandLine(), options.json, e.getMessage());
    } catch (FabricManagerException e) {
      return Cli.refuse(spec.commandLine(), options.json, "Fabric Manager refused: "
          + e.getMessage() + "; return code " + e.returnCode() + " (" + e.returnCode().code()
          + ")");
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "List the partitions Fabric Manager supports, with their state.")
  static final class ListPartitions implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin FabricOptions options;

    @Override
    public Integer call() {
      return withFabric(spec, options, fm -> {
        List<FabricPartition> partitions = fm.listPartitions();
        return options.json ? json(partitions) : table(partitions);
      });
    }

    private static String table(List<FabricPartition> partitions) {
      StringBuilder s = new StringBuilder(String.format("%-4s %-7s %-5s %-18s %s%n", "ID",
          "ACTIVE", "GPUS", "MODULE IDS", "NVLINKS"));
      for (FabricPartition p : partitions) {
        String links = p.gpus().stream().map(g -> g.nvlinksAvailable() + "/" + g.maxNvlinks())
            .distinct().collect(Collectors.joining(","));
        s.append(String.format("%-4d %-7s %-5d %-18s %s%n", p.id(), p.active() ? "yes" : "no",
            p.size(), p.moduleIds().stream().map(String::valueOf)
                .collect(Collectors.joining(",")), links));
      }
      return s.toString();
    }

    private static String json(List<FabricPartition> partitions) {
      ArrayNode all = JSON.createArrayNode();
      for (FabricPartition p : partitions) {
        ObjectNode o = all.addObject();
        o.put("id", p.id());
        o.put("active", p.active());
        ArrayNode ids = o.putArray("moduleIds");
        p.moduleIds().forEach(ids::add);
        ArrayNode gpus = o.putArray("gpus");
        for (PartitionGpu g : p.gpus()) {
          gpus.addObject().put("moduleId", g.moduleId())
              .put("nvlinksAvailable", g.nvlinksAvailable()).put("maxNvlinks", g.maxNvlinks())
              .put("nvlinkLineRateMbps", g.nvlinkLineRateMbps());
        }
      }
      return all.toPrettyString() + System.lineSeparator();
    }
  }

  @Command(name = "activate", mixinStandardHelpOptions = true,
      description = "Activate a partition (refused if it, or one of its GPUs, is active).")
  static final class Activate implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin FabricOptions options;
    @Parameters(paramLabel = "ID", description = "The partition id.") int id;

    @Override
    public Integer call() {
      return withFabric(spec, options, fm -> {
        fm.activate(id);
        return result(options, id, true);
      });
    }
  }

  @Command(name = "deactivate", mixinStandardHelpOptions = true,
      description = {"Deactivate a partition (refused if it is not active).",
          "Refused (exit 1) while a gpuvirt lease in the state directory holds the partition:"
              + " its VM would lose its NVLink fabric. Release the lease with 'gpuvirt teardown"
              + " --owner OWNER', or pass --force."})
  static final class Deactivate implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin FabricOptions options;
    @Parameters(paramLabel = "ID", description = "The partition id.") int id;

    @Option(names = "--state", paramLabel = "DIR",
        description = "State directory whose lease ledger is checked (default: /var/lib/gpuvirt"
            + " for /, else ROOT/var/lib/gpuvirt). A missing directory holds no leases and is"
            + " not created.")
    Path state;

    @Option(names = "--force",
        description = "Deactivate even if a gpuvirt lease holds the partition (the lease stays;"
            + " 'gpuvirt status' then reports it).")
    boolean force;

    @Override
    public Integer call() {
      Path directory = HostContext.stateDirectory(options.hostRoot(), state);
      if (force || !Files.isDirectory(directory)) {
        return deactivate();
      }
      // Under the operation lock, so that a provisioning cannot activate and lease it meanwhile.
      LeaseLedger ledger = LeaseLedger.open(directory);
      return ledger.underOperationLock(() -> {
        Optional<Lease> holder = ledger.leases().stream()
            .filter(l -> l.partitionId().equals(OptionalInt.of(id))).findFirst();
        if (holder.isPresent()) {
          String owner = holder.get().owner();
          return Cli.refuse(spec.commandLine(), options.json, "refused: partition " + id
              + " is held by the lease of " + owner
              + " (" + ledger.file() + "); deactivating it would cut the NVLink fabric under"
              + " that VM. Release it with 'gpuvirt teardown --owner " + owner
              + (options.root == null ? "" : " --root " + options.root)
              + (state == null ? "" : " --state " + state) + "', or pass --force");
        }
        return deactivate();
      });
    }

    private int deactivate() {
      return withFabric(spec, options, fm -> {
        fm.deactivate(id);
        return result(options, id, false);
      });
    }
  }

  private static String result(FabricOptions options, int id, boolean active) {
    if (options.json) {
      return JSON.createObjectNode().put("partition", id).put("active", active).toString()
          + System.lineSeparator();
    }
    return "partition " + id + (active ? " activated" : " deactivated") + System.lineSeparator();
  }
}
