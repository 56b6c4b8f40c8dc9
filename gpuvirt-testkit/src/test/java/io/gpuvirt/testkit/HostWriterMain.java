package io.gpuvirt.testkit;

import io.gpuvirt.core.pci.PciAddress;
import java.nio.file.Path;

/**
 * A second process for {@link SimulatedHostTest}: opens the host at {@code args[0]} and writes
 * {@code 1} to the {@code reset} of {@code args[1]} {@code args[2]} times.
 */
final class HostWriterMain {
  private HostWriterMain() {}

  public static void main(String[] args) {
    try (SimulatedHost host = SimulatedHost.open(Path.of(args[0]))) {
      String reset = PciAddress.parse(args[1]).sysfsPath("reset");
      for (int i = 0; i < Integer.parseInt(args[2]); i++) {
        host.sysfs().write(reset, "1");
      }
    }
  }
}
