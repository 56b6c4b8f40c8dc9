package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.ComputeInstance;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.fabric.mig.MigConfigurator;
import io.gpuvirt.fabric.mig.MigPartedConfig;
import io.gpuvirt.fabric.mig.MigPartedYaml;
import io.gpuvirt.fabric.mig.NvidiaSmiMigBackend;
import io.gpuvirt.fabric.mig.NvmlMigBackend;
import io.gpuvirt.fabric.mig.NvmlMigOptions;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt mig status|apply|assert|export}: MIG on the host's GPUs through
 * {@code nvidia-smi} or, with {@code --backend nvml}, NVML, with mig-parted's config files
 * ({@link MigConfigurator}).
 */
@Command(name = "mig", mixinStandardHelpOptions = true,
    description = {"MIG on the host's GPUs (through nvidia-smi, or NVML with --backend nvml),"
        + " configured with mig-parted's own YAML files."},
    subcommands = {MigCommand.Status.class, MigCommand.Apply.class, MigCommand.Assert.class,
        MigCommand.Export.class})
final class MigCommand {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The largest config file read. */
  static final long MAX_CONFIG_BYTES = 1 << 20;

  private MigCommand() {}

  static MigBackend backend(HostContext host) {
    return NvidiaSmiMigBackend.on(host.gpuHost().commands());
  }

  /** {@code --backend nvidia-smi|nvml} and {@code --nvml-library PATH}, for every subcommand. */
  static final class BackendOptions {
    @Option(names = "--backend", paramLabel = "BACKEND", defaultValue = "nvidia-smi",
        description = "How to reach the driver: nvidia-smi (default) or nvml (libnvidia-ml"
            + " through JNA; a GPU reset still runs nvidia-smi -r, NVML has none).")
    String backend;

    @Option(names = "--nvml-library", paramLabel = "PATH",
        description = "The NVML library for --backend nvml. Default: ROOT/usr/lib/"
            + "x86_64-linux-gnu/libnvidia-ml.so.1 where it exists, else libnvidia-ml.so.1.")
    String nvmlLibrary;

    /** The backend on {@code host}; close it when done (NVML is shut down). */
    Backend open(HostContext host) {
      return switch (backend) {
        case "nvidia-smi" -> {
          if (nvmlLibrary != null) {
            throw new InvalidValueException("--nvml-library is for --backend nvml; drop it or "
                + "add --backend nvml");
          }
          yield new Backend(backend(host));
        }
        case "nvml" -> {
          Path inHost = host.root().resolve("usr/lib/x86_64-linux-gnu/"
              + NvmlMigOptions.DEFAULT_LIBRARY);
          String library = nvmlLibrary != null ? nvmlLibrary
              : Files.isRegularFile(inHost) ? inHost.toString() : NvmlMigOptions.DEFAULT_LIBRARY;
          yield new Backend(NvmlMigBackend.open(NvmlMigOptions.defaults().withLibrary(library),
              host.gpuHost().commands()));
        }
        default -> throw new InvalidValueException("--backend '" + backend + "' is not one of "
            + "nvidia-smi, nvml");
      };
    }
  }

  /** An open backend: closing it shuts NVML down (nothing for nvidia-smi). */
  record Backend(MigBackend mig) implements AutoCloseable {
    @Override
    public void close() {
      if (mig instanceof NvmlMigBackend nvml) {
        nvml.close();
      }
    }
  }

  /** {@code -f FILE -c CONFIG}, shared by apply and assert. */
  static final class ConfigOptions {
    @Option(names = {"-f", "--config-file"}, required = true, paramLabel = "FILE",
        description = "A mig-parted config file (version: v1, mig-configs: ...).")
    Path file;

    @Option(names = {"-c", "--selected-config"}, required = true, paramLabel = "CONFIG",
        description = "The name of the config in the file, such as all-balanced.")
    String name;

    MigPartedConfig read() {
      try {
        if (!Files.isRegularFile(file)) {
          throw new GpuvirtException("mig-parted config " + file + " is not a regular file");
        }
        if (Files.size(file) > MAX_CONFIG_BYTES) {
          throw new GpuvirtException("mig-parted config " + file + " is larger than "
              + MAX_CONFIG_BYTES + " bytes");
        }
        return MigPartedYaml.parse(Files.readString(file, StandardCharsets.UTF_8),
            file.toString());
      } catch (IOException e) {
        throw new GpuvirtException("cannot read mig-parted config " + file + ": " + e.getMessage(),
            e);
      }
    }
  }

  /** {@code gpuvirt mig status}. */
  @Command(name = "status", mixinStandardHelpOptions = true,
      description = {"Each MIG-capable GPU: its MIG mode (current and pending) and its GPU and"
          + " compute instances."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:listed", "2:nvidia-smi failed or bad arguments"})
  static final class Status implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;
    @Mixin BackendOptions backendOptions;

    @Option(names = "--json", description = "Print the GPUs as a JSON array.")
    boolean json;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (HostContext host = hostOptions.open(); Backend opened = backendOptions.open(host)) {
        MigBackend backend = opened.mig();
        MigConfigurator mig = MigConfigurator.on(backend);
        ArrayNode array = JSON.createArrayNode();
        List<MigGpu> gpus = backend.gpus();
        List<io.gpuvirt.fabric.mig.MigGpuState> states = mig.states(); // the same GPUs, in order
        if (gpus.isEmpty() && !json) {
          out.println("no MIG-capable GPU on the nvidia driver on " + host.describe());
        }
        for (int i = 0; i < gpus.size() && i < states.size(); i++) {
          MigGpu g = gpus.get(i);
          MigLayout layout = g.mode().enabled() ? states.get(i).layout() : null;
          List<ComputeInstance> cis = g.mode().enabled() ? backend.computeInstances(g.index())
              : List.of();
          if (json) {
            ObjectNode o = array.addObject();
            o.put("index", g.index());
            o.put("address", g.address().toString());
            o.put("name", g.name());
            o.put("current", g.mode().current().name());
            o.put("pending", g.mode().pending().name());
            ArrayNode gis = o.putArray("gpuInstances");
            if (layout != null) {
              for (GpuInstance gi : layout.instances()) {
                gis.addObject().put("id", gi.id()).put("profile", gi.profile().name())
                    .put("profileId", gi.profile().id())
                    .put("placement", gi.placement().toString())
                    .put("computeInstances", cis.stream()
                        .filter(c -> c.gpuInstanceId() == gi.id()).count());
              }
            }
          } else {
            out.println(g.describe() + ": MIG " + g.mode().current()
                + (g.mode().changePending() ? ", " + g.mode().pending() + " pending a GPU reset"
                    + " (nvidia-smi -r -i " + g.index() + ") or reboot" : ""));
            if (layout != null) {
              for (GpuInstance gi : layout.instances()) {
                out.println("  GPU instance " + gi.id() + ": " + gi.profile().name() + " at "
                    + gi.placement() + ", " + cis.stream().filter(c -> c.gpuInstanceId()
                        == gi.id()).count() + " compute instance(s)");
              }
              out.println("  free memory slices: " + layout.freeSlicesText());
            }
          }
        }
        if (json) {
          out.println(array.toPrettyString());
        }
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt mig apply -f FILE -c CONFIG [--skip-reset]}. */
  @Command(name = "apply", mixinStandardHelpOptions = true,
      description = {"Apply a mig-parted config, all or nothing: set MIG modes, reset the GPUs"
          + " whose mode change is pending, destroy their instances and create the config's, in"
          + " an order the driver accepts. A failure part-way puts every GPU back as it was."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:the GPUs are as configured (or, with --skip-reset, wait for a reset)",
          "1:refused: the config does not fit a GPU, or a step failed (the GPUs were put back,"
              + " or the message says what is left)",
          "2:bad arguments, an unreadable or invalid config file"})
  static final class Apply implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;
    @Mixin BackendOptions backendOptions;
    @Mixin ConfigOptions config;

    @Option(names = "--skip-reset", description = "Leave a MIG mode change pending (reboot or"
        + " reset later, then apply again) instead of resetting the GPUs.")
    boolean skipReset;

    @Option(names = "--json", description = "Print what was done as JSON.")
    boolean json;

    @Override
    public Integer call() {
      MigPartedConfig file = config.read();
      PrintWriter out = spec.commandLine().getOut();
      MigConfigurator.ApplyResult r;
      try (HostContext host = hostOptions.open(); Backend opened = backendOptions.open(host)) {
        try {
          r = MigConfigurator.on(opened.mig()).protecting(host.gpuHost().ledger())
              .skipReset(skipReset).apply(file, config.name);
        } catch (io.gpuvirt.core.mig.MigPlanException
            | io.gpuvirt.fabric.mig.MigApplyException e) {
          return Cli.refuse(spec.commandLine(), json, e.getMessage());
        }
      }
      if (json) {
        ObjectNode o = JSON.createObjectNode();
        o.put("config", config.name);
        ArrayNode u = o.putArray("unchanged");
        r.unchanged().forEach(u::add);
        ObjectNode c = o.putObject("configured");
        r.configured().forEach((gpu, list) -> {
          ArrayNode a = c.putArray(String.valueOf(gpu));
          list.forEach(gi -> a.addObject().put("id", gi.id()).put("profile", gi.profile().name())
              .put("placement", gi.placement().toString()));
        });
        ArrayNode reset = o.putArray("resetRequired");
        r.resetRequired().forEach(reset::add);
        out.println(o.toPrettyString());
      } else {
        for (Map.Entry<Integer, List<GpuInstance>> e : r.configured().entrySet()) {
          out.println("GPU " + e.getKey() + ": " + (e.getValue().isEmpty() ? "configured, no GPU"
              + " instances"
              : String.join(", ", e.getValue().stream().map(gi -> gi.profile().name() + " (id "
                  + gi.id() + " at " + gi.placement() + ")").toList())));
        }
        if (!r.unchanged().isEmpty()) {
          out.println("already as configured: GPUs " + r.unchanged());
        }
        if (!r.resetRequired().isEmpty()) {
          out.println("MIG mode change pending on GPUs " + r.resetRequired() + ": reboot (or"
              + " reset them), then apply again");
        }
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt mig assert -f FILE -c CONFIG}. */
  @Command(name = "assert", mixinStandardHelpOptions = true,
      description = {"Check that every GPU is as a mig-parted config says; changes nothing."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:the GPUs match", "1:a GPU differs (every difference on stderr)",
          "2:bad arguments, an unreadable or invalid config file, a config that does not fit"})
  static final class Assert implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;
    @Mixin BackendOptions backendOptions;
    @Mixin ConfigOptions config;

    @Option(names = "--json", description = "Print {\"matches\": true} as JSON (a mismatch is"
        + " the JSON error of kind refused).")
    boolean json;

    @Override
    public Integer call() {
      MigPartedConfig file = config.read();
      MigConfigurator.Assertion a;
      try (HostContext host = hostOptions.open(); Backend opened = backendOptions.open(host)) {
        a = MigConfigurator.on(opened.mig()).check(file, config.name);
      }
      if (!a.matches()) {
        return Cli.refuse(spec.commandLine(), json, "the GPUs differ from mig-config '"
            + config.name + "': " + String.join("; ", a.differences()));
      }
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        ObjectNode o = JSON.createObjectNode();
        o.put("matches", true);
        out.println(o.toPrettyString());
      } else {
        out.println("every GPU is as mig-config '" + config.name + "' says");
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt mig export [--name NAME]}. */
  @Command(name = "export", mixinStandardHelpOptions = true,
      description = {"Print the GPUs' MIG modes and instances as a mig-parted config (YAML),"
          + " one entry per GPU."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:printed", "2:nvidia-smi failed or bad arguments"})
  static final class Export implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;
    @Mixin BackendOptions backendOptions;

    @Option(names = "--name", paramLabel = "NAME", defaultValue = "current",
        description = "The config's name in the file (default ${DEFAULT-VALUE}).")
    String name;

    @Option(names = "--json", description = "Print {\"name\", \"yaml\"} as JSON.")
    boolean json;

    @Override
    public Integer call() {
      String yaml;
      try (HostContext host = hostOptions.open(); Backend opened = backendOptions.open(host)) {
        yaml = MigPartedYaml.write(MigConfigurator.on(opened.mig()).export(name));
      }
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        ObjectNode o = JSON.createObjectNode();
        o.put("name", name);
        o.put("yaml", yaml);
        out.println(o.toPrettyString());
      } else {
        out.print(yaml);
      }
      out.flush();
      return Cli.OK;
    }
  }
}
