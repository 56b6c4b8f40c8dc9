package io.gpuvirt.examples.cli;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.host.CommandRunner;
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
  enum Fabric { native_, fmpm, simulated }

  @Spec(Spec.Target.MIXEE)
  CommandSpec spec;

  @Option(names = "--fabric", paramLabel = "native|fmpm|simulated", converter = FabricConverter.class,
      defaultValue = "native", description = "How to reach Fabric Manager: libnvfm through JNA (native, the default), the "
          + "fmpm tool, or a simulated Fabric Manager.")
  Fabric fabric;

  @Option(names = "--root", paramLabel = "DIR", description = "Host root. When it holds a "
      + "simulated host (gpuvirt simulate), its simulated Fabric Manager is used "
      + "(var/lib/gpuvirt-sim/fabricmanager.json, an HGX B200 one is created if none): with "
      + "--fabric fmpm its fake fmpm runs, with --fabric native the default --fm-address is its "
      + "Unix-socket address. Any other root is a real host.")
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

  /** Connects the chosen client. */
  FabricManager open() {
    Optional<FmAddress> address = Optional.ofNullable(fmAddress).map(this::parseAddress);
    if (fabric != Fabric.native_ && !nvfmLibrary.equals(NvfmOptions.DEFAULT_LIBRARY)) {
      throw usage("--nvfm-library applies to --fabric native only");
    }
    if (fabric != Fabric.fmpm && !fmpm.equals(FmpmOptions.DEFAULT_PROGRAM)) {
      throw usage("--fmpm applies to --fabric fmpm only");
    }
    if (fabric == Fabric.simulated && address.isPresent()) {
      throw usage("--fm-address does not apply to --fabric simulated; use --root");
    }
    return switch (fabric) {
      case native_ -> NvfmFabricManager.connect(NvfmOptions.defaults().withLibrary(nvfmLibrary)
          .withAddress(address.orElseGet(() -> !simulatedRoot() ? FmAddress.LOCALHOST
              : FmAddress.unixSocket(simulated().stateFile().toString()))));
      case fmpm -> {
        FmpmOptions options = FmpmOptions.defaults().withProgram(fmpm);
        if (address.isPresent()) {
          options = options.withAddress(address.get());
        }
        CommandRunner runner = simulatedRoot() ? simulated().fmpm() : CommandRunner.system();
        yield FmpmFabricManager.create(runner, options);
      }
      case simulated -> simulated().connect();
    };
  }

  /**
   * Whether --root names a simulated host (written by 'gpuvirt simulate' or 'provision'); only
   * then are its simulated Fabric Manager, fake fmpm and socket used. Any other root, / included,
   * is a real host.
   */
  private boolean simulatedRoot() {
    return root != null && HostContext.isSimulated(root);
  }

  private SimulatedFabric simulated() {
    Path hostRoot = root;
    if (hostRoot == null) {
      try {
        hostRoot = Files.createTempDirectory("gpuvirt-sim-");
        hostRoot.toFile().deleteOnExit();
      } catch (IOException e) {
        throw new GpuvirtException("could not create a directory for the simulated host: "
            + e.getMessage() + "; pass --root DIR", e);
      }
    }
    return SimulatedFabric.underHostRoot(hostRoot);
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
        case "native" -> Fabric.native_;
        case "fmpm" -> Fabric.fmpm;
        case "simulated" -> Fabric.simulated;
        default -> throw new CommandLine.TypeConversionException("'" + value
            + "' is not one of native, fmpm, simulated");
      };
    }
  }
}
