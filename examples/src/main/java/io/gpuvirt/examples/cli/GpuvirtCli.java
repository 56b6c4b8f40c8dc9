package io.gpuvirt.examples.cli;

import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code gpuvirt} command line: {@code java -jar examples/target/gpuvirt.jar <command>}, or
 * the launcher {@code examples/target/gpuvirt <command>} (the same jar with a class-data-sharing
 * archive).
 *
 * <p>Exit codes: 0 success, 1 the operation was refused or the host is not ready (the reason on
 * stderr), 2 any other error (bad arguments, unreadable host).
 *
 * <p>Start-up: picocli builds the model of every command it is given, and building all of them
 * (with their options, mixins and the static state of each command class) costs more than most
 * commands' own work. So a run whose first argument names a subcommand gets a command line with
 * only that subcommand under the root ({@link #commandLine(String...)}); only the paths that show
 * the whole command set ({@code gpuvirt}, {@code --help}, {@code --version}, {@code help ...}, an
 * unknown command) build the whole tree. Both give the same output and exit codes (a test
 * compares them for every command).
 */
@Command(name = GpuvirtCli.NAME, mixinStandardHelpOptions = true, version = GpuvirtCli.VERSION,
    description = GpuvirtCli.DESCRIPTION,
    subcommands = {ProvisionCommand.class, TeardownCommand.class, StatusCommand.class,
        RecoverCommand.class, QemuArgsCommand.class, SimulateCommand.class, TopologyCommand.class,
        DoctorCommand.class, BindCommand.class, AllocateCommand.class, ReleaseCommand.class,
        LeasesCommand.class, ReconcileCommand.class, PartitionsCommand.class,
        ModuleIdsCommand.class, io.gpuvirt.examples.guest.GuestCheckCommand.class,
        VgpuCommand.class, MigCommand.class, FleetCommand.class,
        CommandLine.HelpCommand.class})
public final class GpuvirtCli {
  static final String NAME = "gpuvirt";
  static final String VERSION = "gpuvirt 0.1.0";
  static final String DESCRIPTION = "GPU passthrough orchestration for Linux/KVM.";

  public static void main(String[] args) {
    // picocli otherwise probes for Groovy's Closure class on every start (not on the class path).
    System.setProperty("picocli.disable.closures", "true");
    System.exit(run(args));
  }

  /** Runs the CLI and returns its exit code (used by tests). */
  public static int run(String... args) {
    return commandLine(args).execute(args);
  }

  /**
   * The command line that runs {@code args}: the root with only the subcommand {@code args[0]}
   * names when it names one, else the whole tree (help, version, usage and unknown commands).
   */
  static CommandLine commandLine(String... args) {
    Optional<Class<?>> only = args.length == 0 ? Optional.empty() : subcommand(args[0]);
    return only.map(type -> Cli.commandLine(new Root(), args[0], type))
        .orElseGet(() -> Cli.commandLine(new GpuvirtCli()));
  }

  /**
   * The class of the top-level subcommand named {@code name} as {@link GpuvirtCli}'s annotation
   * lists it (a test holds the two equal), except {@code help}, which needs the whole tree.
   * A switch, not a table, so that only the class of the command that runs is loaded.
   */
  static Optional<Class<?>> subcommand(String name) {
    Class<?> type = switch (name) {
      case "provision" -> ProvisionCommand.class;
      case "teardown" -> TeardownCommand.class;
      case "status" -> StatusCommand.class;
      case "recover" -> RecoverCommand.class;
      case "qemu-args" -> QemuArgsCommand.class;
      case "simulate" -> SimulateCommand.class;
      case "topology" -> TopologyCommand.class;
      case "doctor" -> DoctorCommand.class;
      case "bind" -> BindCommand.class;
      case "allocate" -> AllocateCommand.class;
      case "release" -> ReleaseCommand.class;
      case "leases" -> LeasesCommand.class;
      case "reconcile" -> ReconcileCommand.class;
      case "partitions" -> PartitionsCommand.class;
      case "module-ids" -> ModuleIdsCommand.class;
      case "guest-check" -> io.gpuvirt.examples.guest.GuestCheckCommand.class;
      case "vgpu" -> VgpuCommand.class;
      case "mig" -> MigCommand.class;
      case "fleet" -> FleetCommand.class;
      default -> null;
    };
    return Optional.ofNullable(type);
  }

  /** The root without its subcommands: the parent of the one subcommand that runs. */
  @Command(name = NAME, mixinStandardHelpOptions = true, version = VERSION,
      description = DESCRIPTION)
  static final class Root {}
}
