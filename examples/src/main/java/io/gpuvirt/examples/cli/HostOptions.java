package io.gpuvirt.examples.cli;

import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** {@code --root} and {@code --state}, shared by the commands that work on a host's leases. */
final class HostOptions {
  @Option(names = "--root", paramLabel = "DIR",
      description = "Host root: / for this host, or the directory of a simulated host. Default:"
          + " / (provision, teardown and status: the simulated HGX B200 under the temp"
          + " directory).")
  Path root;

  @Option(names = "--state", paramLabel = "DIR",
      description = "State directory (default: /var/lib/gpuvirt for /, else ROOT/var/lib/gpuvirt).")
  Path state;

  /** The host at --root, or at / when none was given. */
  HostContext open() {
    return HostContext.open(root == null ? Path.of("/") : root, state);
  }

  /** The host at --root, or the demo simulated HGX B200 (written when missing) when none was given. */
  HostContext openOrDemo() {
    return HostContext.openOrCreateDemo(Optional.ofNullable(root), state);
  }

  /** The host at --root, or the existing demo simulated HGX B200 when none was given. */
  HostContext openOrExistingDemo() {
    return HostContext.openExistingDemo(Optional.ofNullable(root), state);
  }

  /** The state directory, without opening the host (a --root given must be a sysfs tree). */
  Path stateDirectory() {
    if (root != null) {
      HostContext.requireHostRoot(root);
    }
    return HostContext.stateDirectory(root == null ? Path.of("/") : root, state);
  }

  /** {@code --root DIR} as typed, for hints printed to the user; empty without --root. */
  String rootArgument() {
    return root == null ? "" : " --root " + root;
  }
}
