package io.gpuvirt.examples.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code --root} and {@code --state}, and the one rule for a command run without {@code --root}:
 * the demo simulated host ({@code $TMPDIR/gpuvirt-demo/hgx-b200}) when it exists, saying so on
 * stderr, else this host ({@code /}). Only {@code provision} writes the demo host when it does not
 * exist yet.
 */
final class HostOptions {
  @Spec(Spec.Target.MIXEE)
  CommandSpec spec;

  @Option(names = "--root", paramLabel = "DIR",
      description = "Host root: / for this host, or the directory of a simulated host. Default:"
          + " the demo simulated host under $TMPDIR/gpuvirt-demo when it exists, else /.")
  Path root;

  @Option(names = "--state", paramLabel = "DIR",
      description = "State directory (default: /var/lib/gpuvirt for /, else ROOT/var/lib/gpuvirt).")
  Path state;

  /**
   * The root a command works on: {@code given}, else the demo host when it exists (noted on
   * {@code err}), else {@code /}. Every command that takes {@code --root} resolves it here.
   */
  static Path resolve(Path given, PrintWriter err) {
    if (given != null) {
      return given;
    }
    Path demo = HostContext.demoRoot();
    if (HostContext.isSimulated(demo)) {
      err.println("gpuvirt: no --root given: using the simulated demo host at " + demo
          + " (pass --root / for this host)");
      err.flush();
      return demo;
    }
    return Path.of("/");
  }

  /** Whether the demo host exists (what a command without --root then works on). */
  static boolean demoExists() {
    return HostContext.isSimulated(HostContext.demoRoot());
  }

  private PrintWriter err() {
    return spec == null ? new PrintWriter(System.err, true) : spec.commandLine().getErr();
  }

  /** The root this command works on. */
  Path root() {
    return resolve(root, err());
  }

  /**
   * The CPU architecture of the host this command works on, from its {@code /proc/cpuinfo}
   * (a simulated host's says what its profile says).
   */
  io.gpuvirt.core.host.CpuArchitecture architecture() {
    Path resolved = root != null ? root : demoExists() ? HostContext.demoRoot() : Path.of("/");
    return io.gpuvirt.core.host.CpuArchitecture.of(io.gpuvirt.core.host.Sysfs.at(resolved));
  }

  /** The host this command works on. */
  HostContext open() {
    return HostContext.open(root(), state);
  }

  /** As {@link #open()}, but without --root and without a demo host, writes the demo host. */
  HostContext openOrCreateDemo() {
    if (root == null && !demoExists()) {
      return HostContext.createDemo(state);
    }
    return open();
  }

  /** The state directory, without opening the host (a --root given must be a sysfs tree). */
  Path stateDirectory() {
    Path resolved = root();
    if (root != null) {
      HostContext.requireHostRoot(root);
    }
    return HostContext.stateDirectory(resolved, state);
  }

  /** {@code --root DIR} as typed, for hints printed to the user; empty without --root. */
  String rootArgument() {
    return argument(root);
  }

  /** {@code --root DIR} for hints when a root was given, else empty. */
  static String argument(Path given) {
    return given == null ? "" : " --root " + given;
  }
}
