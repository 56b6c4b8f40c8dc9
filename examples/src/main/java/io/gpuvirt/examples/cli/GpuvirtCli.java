package io.gpuvirt.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code gpuvirt} command line: {@code java -jar examples/target/gpuvirt.jar <command>}.
 *
 * <p>Exit codes: 0 success, 1 the operation was refused or the host is not ready (the reason on
 * stderr), 2 any other error (bad arguments, unreadable host).
 */
@Command(name = "gpuvirt", mixinStandardHelpOptions = true, version = "gpuvirt 0.1.0",
    description = "GPU passthrough orchestration for Linux/KVM.",
    subcommands = {ProvisionCommand.class, TeardownCommand.class, StatusCommand.class,
        RecoverCommand.class, QemuArgsCommand.class, SimulateCommand.class, TopologyCommand.class,
        DoctorCommand.class, BindCommand.class, AllocateCommand.class, ReleaseCommand.class,
        LeasesCommand.class, ReconcileCommand.class, PartitionsCommand.class,
        ModuleIdsCommand.class, io.gpuvirt.examples.guest.GuestCheckCommand.class,
        VgpuCommand.class, MigCommand.class, FleetCommand.class,
        CommandLine.HelpCommand.class})
public final class GpuvirtCli {

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the CLI and returns its exit code (used by tests). */
  public static int run(String... args) {
    return Cli.commandLine(new GpuvirtCli()).execute(args);
  }
}
