package io.gpuvirt.examples.cli;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.gpuhost.NoFabricManagerException;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.fabric.FmAddress;
import io.gpuvirt.fabric.fmpm.FmpmFabricManager;
import io.gpuvirt.fabric.fmpm.FmpmOptions;
import io.gpuvirt.fabric.nvfm.NvfmFabricManager;
import io.gpuvirt.fabric.nvfm.NvfmOptions;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The options that choose and reach a Fabric Manager, shared by the partition commands. */
final class FabricOptions {
  /** How gpuvirt talks to Fabric Manager. */
  enum Fabric { auto, native_, fmpm, simulated }

  @Spec(Spec.Target.MIXEE)
  CommandSpec spec;

  @Option(names = "--fabric", paramLabel = "auto|native|fmpm|simulated",
      converter = FabricConverter.class, defaultValue = "auto", description = "How to reach"
          + " Fabric Manager: auto (the default) chooses from the host as the library does (a"
          + " simulated host's own simulated Fabric Manager; on a real host with FABRIC_MODE=1"
          + " libnvfm when installed, else fmpm; none otherwise); native = libnvfm through JNA;"
          + " fmpm = the fmpm tool; simulated = the simulated Fabric Manager of --root.")
  Fabric fabric;

  @Option(names = "--root", paramLabel = "DIR", description = "Host root (default: the demo"
      + " simulated host under $TMPDIR/gpuvirt-demo when it exists, else /). A simulated host"
      + " (gpuvirt simulate) has its own simulated Fabric Manager when its profile is in shared"
      + " NVSwitch mode: with --fabric fmpm its fake fmpm runs, with --fabric native the default"
      + " --fm-address is its Unix-socket address. Any other root is a real host.")
  Path root;

  @Option(names = "--nvfm-library", paramLabel = "PATH", description = "libnvfm to load with "
      + "--fabric native (default: ${DEFAULT-VALUE}).")
  String nvfmLibrary = NvfmOptions.DEFAULT_LIBRARY;

  @Option(names = "--fm-address", paramLabel = "ADDR", description = "Fabric Manager API address "
      + "for native or fmpm: HOST[:PORT] or unix:PATH (default 127.0.0.1).")
  String fmAddress;

  @Option(names = "--fmpm", paramLabel = "PATH", description = "The fmpm program with --fabric fmpm "
      + "(default: ${DEFAULT-VALUE}).")
  String fmpm = FmpmOptions.DEFAULT_PROGRAM;

  @Option(names = "--json", description = "Print JSON.")
  boolean json;

  /** The host root, by the CLI's one rule ({@link HostOptions#resolve}). */
  Path hostRoot() {
    if (resolvedRoot == null) {
      resolvedRoot = HostOptions.resolve(root, spec.commandLine().getErr());
    }
    return resolvedRoot;
  }

  private Path resolvedRoot;

  /**
   * Connects the chosen client.
   *
   * @throws NoFabricManagerException with {@code --fabric auto} or {@code simulated} on a host
   *     that has none
   */
  FabricManager open() {
    Path hostRoot = hostRoot();
    return open(hostRoot, HostContext.stateDirectory(hostRoot, null));
  }

  /** Connects the chosen client for the host at {@code hostRoot}. */
  FabricManager open(Path hostRoot, Path stateDirectory) {
    if (fabric == Fabric.auto) {
      // Options that only one client takes choose that client.
      if (!fmpm.equals(FmpmOptions.DEFAULT_PROGRAM)) {
        fabric = Fabric.fmpm;
      } else if (!nvfmLibrary.equals(NvfmOptions.DEFAULT_LIBRARY) || fmAddress != null) {
        fabric = Fabric.native_;
      }
    }
    Optional<FmAddress> address = Optional.ofNullable(fmAddress).map(this::parseAddress);
    if (fabric != Fabric.native_ && !nvfmLibrary.equals(NvfmOptions.DEFAULT_LIBRARY)) {
      throw usage("--nvfm-library applies to --fabric native only");
    }
    if (fabric != Fabric.fmpm && !fmpm.equals(FmpmOptions.DEFAULT_PROGRAM)) {
      throw usage("--fmpm applies to --fabric fmpm only");
    }
    if ((fabric == Fabric.simulated || fabric == Fabric.auto) && address.isPresent()) {
      throw usage("--fm-address does not apply to --fabric " + fabric + "; pass --fabric native"
          + " or fmpm with it");
    }
    boolean simulatedRoot = HostContext.isSimulated(hostRoot);
    return switch (fabric) {
      case auto -> facade(hostRoot, stateDirectory);
      case simulated -> simulatedRoot ? facade(hostRoot, stateDirectory)
          : simulated(null, root).connect();
      case native_ -> NvfmFabricManager.connect(NvfmOptions.defaults().withLibrary(nvfmLibrary)
          .withAddress(address.orElseGet(() -> !simulatedRoot ? FmAddress.LOCALHOST
              : FmAddress.unixSocket(simulated(hostRoot, root).stateFile().toString()))));
      case fmpm -> {
        FmpmOptions options = FmpmOptions.defaults().withProgram(fmpm);
        if (address.isPresent()) {
          options = options.withAddress(address.get());
        }
        CommandRunner runner = simulatedRoot ? simulated(hostRoot, root).fmpm()
            : CommandRunner.system();
        yield FmpmFabricManager.create(runner, options);
      }
    };
  }

  /** The Fabric Manager the library's facade chooses for the host. */
  private static FabricManager facade(Path hostRoot, Path stateDirectory) {
    GpuHost host = GpuHost.builder(hostRoot).stateDirectory(stateDirectory).open();
    // The connection outlives the facade object: closing the Fabric Manager closes it.
    return host.fabricManager();
  }

  /**
   * The simulated Fabric Manager of a simulated host at {@code simulatedRoot}, per its profile;
   * else the one kept under {@code --root} (an HGX B200 one is created there if none); with
   * neither, an HGX B200 one in a fresh temporary directory.
   */
  private static SimulatedFabric simulated(Path simulatedRoot, Path givenRoot) {
    if (simulatedRoot != null) {
      return SimulatedFabric.ofHost(SimulatedHost.open(simulatedRoot)).orElseThrow(() ->
          new NoFabricManagerException("no Fabric Manager on this host (simulated host at "
              + simulatedRoot + "): it is not in shared NVSwitch mode, so it has no partitions"));
    }
    if (givenRoot != null) {
      return SimulatedFabric.underHostRoot(givenRoot);
    }
    try {
      Path hostRoot = Files.createTempDirectory("gpuvirt-sim-");
      hostRoot.toFile().deleteOnExit();
      return SimulatedFabric.underHostRoot(hostRoot);
    } catch (IOException e) {
      throw new GpuvirtException("could not create a directory for the simulated host: "
          + e.getMessage() + "; pass --root DIR", e);
    }
  }

  private FmAddress parseAddress(String text) {
    try {
      return FmAddress.parse(text);
    } catch (IllegalArgumentException | InvalidValueException e) {
      throw usage("--fm-address: " + e.getMessage());
    }
  }

  private CommandLine.ParameterException usage(String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }

  /** Reads {@code native} (a Java keyword) into {@link Fabric#native_}. */
  static final class FabricConverter implements CommandLine.ITypeConverter<Fabric> {
    @Override
    public Fabric convert(String value) {
      return switch (value) {
        case "auto" -> Fabric.auto;
        case "native" -> Fabric.native_;
        case "fmpm" -> Fabric.fmpm;
        case "simulated" -> Fabric.simulated;
        default -> throw new CommandLine.TypeConversionException("'" + value
            + "' is not one of auto, native, fmpm, simulated");
      };
    }
  }
}
