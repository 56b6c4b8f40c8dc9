package io.gpuvirt.examples.cli;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;

/** The host behind a {@code --root} option. */
final class HostRoots {
  private HostRoots() {}

  /**
   * The host seam for {@code root}: a simulated host written by {@code gpuvirt simulate} gets its
   * kernel model (so that writes to {@code driver_override}, {@code unbind} and
   * {@code drivers_probe} act as on Linux); any other directory, {@code /} included, is read and
   * written as it is.
   */
  static Sysfs sysfs(Path root) {
    return SimulatedHost.isSimulatedHost(root) ? SimulatedHost.open(root).sysfs() : Sysfs.at(root);
  }
}
