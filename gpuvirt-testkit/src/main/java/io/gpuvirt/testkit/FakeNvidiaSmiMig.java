package io.gpuvirt.testkit;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.pci.PciAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code nvidia-smi}'s MIG commands on a simulated host's {@link SimulatedMig} state, in the
 * formats of {@code shared/reference/VGPU_MIG.md} §3: {@code -L}, {@code --query-gpu=...
 * --format=csv,noheader}, {@code -i N -mig 0|1}, {@code -r -i N}, and {@code mig -lgip},
 * {@code -lgipp}, {@code -lgi}, {@code -lci}, {@code -cgi IDS [-C]}, {@code -dci}, {@code -dgi}
 * with {@code -i N}. Errors are the driver's words ("Insufficient Resources", "In use by another
 * client", "Not Found") with a non-zero exit code, and change nothing.
 */
public final class FakeNvidiaSmiMig implements CommandRunner {
  private static final Set<String> VALUED = Set.of("-i", "-mig", "-gi", "-ci", "-cgi");
  private static final Set<String> FLAGS = Set.of("mig", "-C", "-lgip", "-lgipp", "-lgi", "-lci",
      "-dci", "-dgi", "-r", "--gpu-reset", "-L");

  private final SimulatedMig mig;

  /** The fake on {@code host}. */
  public FakeNvidiaSmiMig(SimulatedHost host) {
    this.mig = SimulatedMig.of(host);
  }

  /**
   * Whether {@code host} has an NVIDIA GPU, and so an {@code nvidia-smi} whose MIG commands this
   * fake answers (GPUs without MIG are left out of its lists, as backends skip their
   * {@code [N/A]} modes).
   */
  public static boolean hasNvidiaGpus(SimulatedHost host) {
    return host.profile().devices().stream().anyMatch(d -> d.id().vendor() == 0x10de
        && d.pciClass().isGpu());
  }

  /** Whether {@code args} (without the program) are MIG commands this fake answers. */
  public static boolean handles(List<String> args) {
    return args.contains("mig") || args.contains("-mig") || args.contains("-L")
        || args.contains("-r") || args.contains("--gpu-reset")
        || args.stream().anyMatch(a -> a.startsWith("--query-gpu="));
  }

  @Override
  public CommandResult run(Command command) {
    String program = command.program();
    if (!program.substring(program.lastIndexOf('/') + 1).equals("nvidia-smi")) {
      throw new CommandException(command.argv(), "could not start " + program
          + ": no such file (the fake runs only nvidia-smi)", null);
    }
    List<String> args = command.argv().subList(1, command.argv().size());
    Map<String, String> opts = new HashMap<>();
    String query = null;
    String format = null;
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (VALUED.contains(a) && i + 1 < args.size()) {
        opts.put(a, args.get(++i));
      } else if (FLAGS.contains(a)) {
        opts.put(a, "");
      } else if (a.startsWith("--query-gpu=")) {
        query = a.substring("--query-gpu=".length());
      } else if (a.startsWith("--format=")) {
        format = a.substring("--format=".length());
      } else {
        return invalid(command);
      }
    }
    if (query != null) {
      return query(command, query, format);
    }
    if (opts.containsKey("-L") && opts.size() == 1) {
      return list(command);
    }
    if (opts.containsKey("-mig") && !opts.containsKey("mig") && opts.containsKey("-i")) {
      return setMode(command, opts.get("-i"), opts.get("-mig"));
    }
    if ((opts.containsKey("-r") || opts.containsKey("--gpu-reset")) && opts.containsKey("-i")) {
      return reset(command, opts.get("-i"));
    }
    if (!opts.containsKey("mig")) {
      return invalid(command);
    }
    if (opts.containsKey("-lgip")) {
      return profiles(command, opts.get("-i"));
    }
    if (opts.containsKey("-lgipp")) {
      return placements(command, opts.get("-i"));
    }
    if (opts.containsKey("-lgi")) {
      return gpuInstances(command, opts.get("-i"));
    }
    if (opts.containsKey("-lci")) {
      return computeInstances(command, opts.get("-i"));
    }
    if (opts.containsKey("-cgi") && opts.containsKey("-i")) {
      return create(command, opts.get("-i"), opts.get("-cgi"), opts.containsKey("-C"));
    }
    if (opts.containsKey("-dci") && opts.containsKey("-i") && opts.containsKey("-gi")
        && opts.containsKey("-ci")) {
      return destroyCi(command, opts.get("-i"), opts.get("-gi"), opts.get("-ci"));
    }
    if (opts.containsKey("-dgi") && opts.containsKey("-i") && opts.containsKey("-gi")) {
      return destroyGi(command, opts.get("-i"), opts.get("-gi"));
    }
    return invalid(command);
  }

  private Optional<SimulatedMig.Visible> gpu(List<SimulatedMig.Visible> gpus, String index) {
    if (index == null || !index.matches("[0-9]{1,2}")) {
      return Optional.empty();
    }
    int i = Integer.parseInt(index);
    return gpus.stream().filter(g -> g.index() == i).findFirst();
  }

  private static String busId(PciAddress a) {
    return ("0000" + a).toUpperCase(Locale.ROOT);
  }

  private static String state(MigMode.State s) {
    return s == MigMode.State.ENABLED ? "Enabled" : "Disabled";
  }

  private static String uuid(String prefix, String seed) {
    byte[] h = new byte[16];
    for (int i = 0; i < seed.length(); i++) {
      h[i % 16] = (byte) (h[i % 16] * 31 + seed.charAt(i));
    }
    String x = HexFormat.of().formatHex(h);
    return prefix + x.substring(0, 8) + "-" + x.substring(8, 12) + "-" + x.substring(12, 16) + "-"
        + x.substring(16, 20) + "-" + x.substring(20);
  }

  private CommandResult query(Command command, String fields, String format) {
    List<String> wanted = List.of(fields.split(","));
    if (!"csv,noheader".equals(format)) {
      return invalid(command);
    }
    return mig.transact((gpus, state) -> {
      StringBuilder out = new StringBuilder();
      for (SimulatedMig.Visible g : gpus) {
        List<String> values = new ArrayList<>();
        for (String f : wanted) {
          switch (f) {
            case "index" -> values.add(String.valueOf(g.index()));
            case "pci.bus_id" -> values.add(busId(g.address()));
            case "name" -> values.add(g.name());
            case "pci.device_id" -> values.add(String.format("0x%04X10DE", g.deviceId()));
            case "mig.mode.current" -> values.add(state(g.state().mode().current()));
            case "mig.mode.pending" -> values.add(state(g.state().mode().pending()));
            default -> {
              return result(command, 2, "", "Field \"" + f + "\" is not a valid field to "
                  + "query.\n");
            }
          }
        }
        out.append(String.join(", ", values)).append('\n');
      }
      return result(command, 0, out.toString(), "");
    });
  }

  private CommandResult list(Command command) {
    return mig.transact((gpus, state) -> {
      StringBuilder out = new StringBuilder();
      for (SimulatedMig.Visible g : gpus) {
        out.append("GPU ").append(g.index()).append(": ").append(g.name()).append(" (UUID: ")
            .append(uuid("GPU-", g.address().toString())).append(")\n");
        int device = 0;
        for (SimulatedMig.Gi gi : g.state().gis()) {
          for (SimulatedMig.Ci ci : gi.cis()) {
            out.append(String.format("  MIG %-12s Device %2d: (UUID: %s)%n",
                g.table().profile(gi.profileId()).name(), device++,
                uuid("MIG-", g.address() + "/" + gi.id() + "/" + ci.id())));
          }
        }
      }
      return result(command, 0, out.toString(), "");
    });
  }

  private CommandResult setMode(Command command, String index, String value) {
    if (!value.equals("0") && !value.equals("1")) {
      return invalid(command);
    }
    boolean on = value.equals("1");
    return mig.transact((gpus, state) -> {
      Optional<SimulatedMig.Visible> g = gpu(gpus, index);
      if (g.isEmpty()) {
        return notFound(command, index);
      }
      String bus = busId(g.get().address());
      SimulatedMig.GpuMig now = g.get().state();
      if (!on && !now.gis().isEmpty()) {
        return result(command, 19, "", "Unable to disable MIG Mode for GPU " + bus
            + ": In use by another client\n");
      }
      MigMode.State wanted = on ? MigMode.State.ENABLED : MigMode.State.DISABLED;
      state.put(g.get().address(), new SimulatedMig.GpuMig(
          new MigMode(now.mode().current(), wanted), now.gis()));
      String out = (on ? "Enabled" : "Disabled") + " MIG Mode for GPU " + bus + "\n";
      if (now.mode().current() != wanted) {
        out += "Warning: MIG mode is in pending " + (on ? "enable" : "disable") + " state for GPU "
            + bus + ":Not Supported\nReboot the system or try nvidia-smi --gpu-reset to make MIG"
            + " mode effective on GPU " + bus + "\n";
      }
      return result(command, 0, out + "All done.\n", "");
    });
  }

  private CommandResult reset(Command command, String index) {
    return mig.transact((gpus, state) -> {
      Optional<SimulatedMig.Visible> g = gpu(gpus, index);
      if (g.isEmpty()) {
        return notFound(command, index);
      }
      if (!mig.occupiedByVgpus(g.get().address()).isEmpty()) {
        // The real tool's words for a busy reset are not in the reference (inferred).
        return result(command, 19, "", "Unable to reset GPU " + busId(g.get().address())
            + ": In use by another client\n");
      }
      MigMode.State pending = g.get().state().mode().pending();
      state.put(g.get().address(), new SimulatedMig.GpuMig(new MigMode(pending, pending),
          List.of()));
      return result(command, 0, "GPU " + busId(g.get().address()) + " was successfully reset.\n"
          + "All done.\n", "");
    });
  }

  private List<SimulatedMig.Visible> selected(List<SimulatedMig.Visible> gpus, String index) {
    if (index == null) {
      return gpus.stream().filter(g -> g.state().mode().enabled()).toList();
    }
    return gpu(gpus, index).filter(g -> g.state().mode().enabled()).map(List::of)
        .orElse(List.of());
  }

  private CommandResult profiles(Command command, String index) {
    return mig.transact((gpus, state) -> {
      List<SimulatedMig.Visible> on = selected(gpus, index);
      if (on.isEmpty()) {
        return noMig(command);
      }
      String border = "+" + "-".repeat(77) + "+\n";
      StringBuilder out = new StringBuilder(border)
          .append(String.format("| %-75s |%n", "GPU instance profiles:"))
          .append(String.format("| %-75s |%n",
              "GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC"))
          .append(String.format("| %-75s |%n",
              "                             Free/Total   GiB              CE    JPEG  OFA"))
          .append("|").append("=".repeat(77)).append("|\n");
      for (SimulatedMig.Visible g : on) {
        MigLayout layout = g.layout();
        for (GpuInstanceProfile p : g.table().profiles()) {
          int used = layout.profileCounts().getOrDefault(p.name(), 0);
          int free = layout.driverPlacement(p).isPresent()
              ? Math.max(0, p.maxInstances() - used) : 0;
          var e = p.engines();
          out.append(String.format(Locale.ROOT, "| %3d  MIG %-12s %4d   %3d/%-3d     %6.2f      No    %4d"
                  + "   %3d   %3d   |%n", g.index(), p.name(), p.id(), free, p.maxInstances(),
              p.memoryMiB() / 1024.0, p.multiprocessors().orElse(0),
              e.map(x -> x.decoders()).orElse(0), e.map(x -> x.encoders()).orElse(0)));
          out.append(String.format("| %56s %4d   %3d   %3d   |%n", "",
              e.map(x -> x.copyEngines()).orElse(0), e.map(x -> x.jpegs()).orElse(0),
              e.map(x -> x.ofas()).orElse(0)));
        }
        out.append(border);
      }
      return result(command, 0, out.toString(), "");
    });
  }

  private CommandResult placements(Command command, String index) {
    return mig.transact((gpus, state) -> {
      List<SimulatedMig.Visible> on = selected(gpus, index);
      if (on.isEmpty()) {
        return noMig(command);
      }
      StringBuilder out = new StringBuilder();
      for (SimulatedMig.Visible g : on) {
        for (GpuInstanceProfile p : g.table().profiles()) {
          out.append(String.format("GPU  %d Profile ID %2d Placements: {%s}:%d%n", g.index(),
              p.id(), String.join(",", p.placementStarts().stream().map(String::valueOf)
                  .toList()), p.memorySlices()));
        }
        out.append('\n');
      }
      return result(command, 0, out.toString(), "");
    });
  }

  private CommandResult gpuInstances(Command command, String index) {
    return mig.transact((gpus, state) -> {
      List<SimulatedMig.Visible> on = selected(gpus, index);
      if (on.isEmpty()) {
        return noMig(command);
      }
      List<String> rows = new ArrayList<>();
      for (SimulatedMig.Visible g : on) {
        for (SimulatedMig.Gi gi : g.state().gis()) {
          rows.add(String.format("| %3d  MIG %-14s %5d    %5d      %5s     |", g.index(),
              g.table().profile(gi.profileId()).name(), gi.profileId(), gi.id(),
              gi.placement()));
        }
      }
      if (rows.isEmpty()) {
        return result(command, 6, "No GPU instances found: Not Found\n", "");
      }
      String border = "+" + "-".repeat(52) + "+\n";
      String out = border
          + String.format("| %-50s |%n", "GPU instances:")
          + String.format("| %-50s |%n", "GPU   Name             Profile  Instance   Placement")
          + String.format("| %-50s |%n", "                         ID       ID       Start:Size")
          + "|" + "=".repeat(52) + "|\n" + String.join("\n", rows) + "\n" + border;
      return result(command, 0, out, "");
    });
  }

  private CommandResult computeInstances(Command command, String index) {
    return mig.transact((gpus, state) -> {
      List<SimulatedMig.Visible> on = selected(gpus, index);
      if (on.isEmpty()) {
        return noMig(command);
      }
      List<String> rows = new ArrayList<>();
      for (SimulatedMig.Visible g : on) {
        for (SimulatedMig.Gi gi : g.state().gis()) {
          for (SimulatedMig.Ci ci : gi.cis()) {
            rows.add(String.format("| %3d      %3d       MIG %-16s %4d        %3d          |",
                g.index(), gi.id(), ci.name(), ci.profileId(), ci.id()));
          }
        }
      }
      if (rows.isEmpty()) {
        return result(command, 6, "No compute instances found: Not Found\n", "");
      }
      String border = "+" + "-".repeat(66) + "+\n";
      String out = border
          + String.format("| %-64s |%n", "Compute instances:")
          + String.format("| %-64s |%n", "GPU     GPU       Name             Profile   Instance")
          + String.format("| %-64s |%n", "      Instance                       ID        ID")
          + String.format("| %-64s |%n", "        ID")
          + "|" + "=".repeat(66) + "|\n" + String.join("\n", rows) + "\n" + border;
      return result(command, 0, out, "");
    });
  }

  private CommandResult create(Command command, String index, String list, boolean withCi) {
    return mig.transact((gpus, state) -> {
      Optional<SimulatedMig.Visible> g = gpu(gpus, index);
      if (g.isEmpty()) {
        return notFound(command, index);
      }
      if (!g.get().state().mode().enabled()) {
        return noMig(command);
      }
      StringBuilder out = new StringBuilder();
      SimulatedMig.GpuMig gpu = g.get().state();
      for (String item : list.split(",")) {
        Optional<GpuInstanceProfile> profile = profile(g.get(), item.strip());
        if (profile.isEmpty()) {
          state.put(g.get().address(), gpu);
          return result(command, 2, out.toString(), "Unable to create a GPU instance on GPU "
              + g.get().index() + " using profile " + item + ": Invalid Argument\n");
        }
        MigLayout layout = new SimulatedMig.Visible(g.get().index(), g.get().address(),
            g.get().deviceId(), g.get().name(), g.get().table(), gpu).layout();
        Optional<MigPlacement> at = layout.driverPlacement(profile.get());
        if (at.isEmpty()) {
          state.put(g.get().address(), gpu); // what was made before this one stays, as on a GPU
          return result(command, 2, out.toString(), "Unable to create a GPU instance on GPU "
              + g.get().index() + " using profile " + profile.get().id()
              + ": Insufficient Resources\nFailed to create GPU instances: Insufficient "
              + "Resources\n");
        }
        int id = SimulatedMig.nextGpuInstanceId(gpu, profile.get(), g.get().table());
        List<SimulatedMig.Ci> cis = new ArrayList<>();
        out.append(String.format("Successfully created GPU instance ID %2d on GPU %2d using "
            + "profile MIG %s (ID %2d)%n", id, g.get().index(), profile.get().name(),
            profile.get().id()));
        if (withCi) {
          int ciProfile = fullComputeProfileId(profile.get().computeSlices());
          cis.add(new SimulatedMig.Ci(0, ciProfile, profile.get().name()));
          out.append(String.format("Successfully created compute instance ID %2d on GPU %2d GPU "
              + "instance ID %2d using profile MIG %s (ID %2d)%n", 0, g.get().index(), id,
              profile.get().name(), ciProfile));
        }
        List<SimulatedMig.Gi> gis = new ArrayList<>(gpu.gis());
        gis.add(new SimulatedMig.Gi(id, profile.get().id(), at.get(), cis));
        gpu = new SimulatedMig.GpuMig(gpu.mode(), gis);
      }
      state.put(g.get().address(), gpu);
      return result(command, 0, out.toString(), "");
    });
  }

  /** NVML's compute-instance profile constant of a full-size CI of {@code slices} slices. */
  static int fullComputeProfileId(int slices) {
    return switch (slices) {
      case 1 -> 0;
      case 2 -> 1;
      case 3 -> 2;
      case 4 -> 3;
      case 7 -> 4;
      case 8 -> 5;
      case 6 -> 6;
      default -> 0;
    };
  }

  private static Optional<GpuInstanceProfile> profile(SimulatedMig.Visible g, String item) {
    if (item.matches("[0-9]{1,3}")) {
      int id = Integer.parseInt(item);
      return g.table().profiles().stream().filter(p -> p.id() == id).findFirst();
    }
    return g.table().profiles().stream().filter(p -> p.name().equals(item)).findFirst();
  }

  private CommandResult destroyCi(Command command, String index, String giText, String ciText) {
    return mig.transact((gpus, state) -> {
      Optional<SimulatedMig.Visible> g = gpu(gpus, index);
      if (g.isEmpty()) {
        return notFound(command, index);
      }
      if (!giText.matches("[0-9]{1,3}") || !ciText.matches("[0-9]{1,3}")) {
        return invalid(command);
      }
      int giId = Integer.parseInt(giText);
      int ciId = Integer.parseInt(ciText);
      List<SimulatedMig.Gi> gis = new ArrayList<>();
      boolean found = false;
      for (SimulatedMig.Gi gi : g.get().state().gis()) {
        if (gi.id() == giId && gi.cis().stream().anyMatch(c -> c.id() == ciId)) {
          found = true;
          gis.add(new SimulatedMig.Gi(gi.id(), gi.profileId(), gi.placement(),
              gi.cis().stream().filter(c -> c.id() != ciId).toList()));
        } else {
          gis.add(gi);
        }
      }
      if (!found) {
        return result(command, 6, "", "Unable to destroy compute instance ID " + ciId
            + " from GPU " + g.get().index() + " GPU instance ID " + giId + ": Not Found\n");
      }
      state.put(g.get().address(), new SimulatedMig.GpuMig(g.get().state().mode(), gis));
      return result(command, 0, String.format("Successfully destroyed compute instance ID %2d "
          + "from GPU %2d GPU instance ID %2d%n", ciId, g.get().index(), giId), "");
    });
  }

  private CommandResult destroyGi(Command command, String index, String giText) {
    return mig.transact((gpus, state) -> {
      Optional<SimulatedMig.Visible> g = gpu(gpus, index);
      if (g.isEmpty()) {
        return notFound(command, index);
      }
      if (!giText.matches("[0-9]{1,3}")) {
        return invalid(command);
      }
      int giId = Integer.parseInt(giText);
      Optional<SimulatedMig.Gi> gi = g.get().state().gis().stream().filter(x -> x.id() == giId)
          .findFirst();
      if (gi.isEmpty()) {
        return result(command, 6, "", "Unable to destroy GPU instance ID " + giId + " from GPU "
            + g.get().index() + ": Not Found\n");
      }
      if (!gi.get().cis().isEmpty() || mig.occupiedByVgpus(g.get().address()).contains(giId)) {
        return result(command, 19, "", "Unable to destroy GPU instance ID " + giId + " from GPU "
            + g.get().index() + ": In use by another client\n");
      }
      state.put(g.get().address(), new SimulatedMig.GpuMig(g.get().state().mode(),
          g.get().state().gis().stream().filter(x -> x.id() != giId).toList()));
      return result(command, 0, String.format("Successfully destroyed GPU instance ID %2d from "
          + "GPU %2d%n", giId, g.get().index()), "");
    });
  }

  private CommandResult notFound(Command command, String index) {
    return result(command, 6, "", "No devices were found matching the index " + index + ".\n");
  }

  private CommandResult noMig(Command command) {
    return result(command, 6, "No MIG-enabled devices found.\n", "");
  }

  private CommandResult invalid(Command command) {
    return result(command, 2, "", "Invalid combination of input arguments. Please run "
        + "'nvidia-smi -h' for help.\n");
  }

  private static CommandResult result(Command command, int exit, String stdout, String stderr) {
    return new CommandResult(command.argv(), exit, stdout, stderr, Duration.ofMillis(1), false);
  }
}
