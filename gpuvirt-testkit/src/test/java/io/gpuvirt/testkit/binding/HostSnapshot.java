package io.gpuvirt.testkit.binding;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Everything binding can change on a simulated host, read back through the scanner: every device
 * as {@link TopologyScanner} sees it (driver, {@code driver_override}, VFs, ...) and the
 * {@code /dev/vfio} nodes.
 */
record HostSnapshot(List<PciDevice> devices, List<String> vfioNodes) {
  static HostSnapshot of(SimulatedHost host) {
    Path dev = host.root().resolve("dev/vfio");
    List<String> nodes;
    if (Files.isDirectory(dev)) {
      try (Stream<Path> s = Files.list(dev)) {
        nodes = s.map(p -> p.getFileName().toString()).sorted().toList();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    } else {
      nodes = List.of();
    }
    // Read the tree directly: the simulated kernel is not needed to read, only to write.
    return new HostSnapshot(TopologyScanner.scan(Sysfs.at(host.root())).devices(), nodes);
  }

  PciDevice device(PciAddress address) {
    return devices.stream().filter(d -> d.address().equals(address)).findFirst().orElseThrow();
  }

  Optional<String> driver(PciAddress address) {
    return device(address).driver();
  }

  /** One line per device: address, driver and override; then the /dev/vfio nodes. */
  String bindingState() {
    return devices.stream().map(d -> d.address() + " driver=" + d.driver().orElse("-")
        + " override=" + d.driverOverride().orElse("-")).collect(Collectors.joining("\n"))
        + "\n/dev/vfio: " + vfioNodes;
  }

  /**
   * Asserts that the host is exactly as {@code expected}: the binding state first (a readable
   * difference), then every field of every device.
   */
  static void assertSame(HostSnapshot expected, SimulatedHost host, String context) {
    HostSnapshot now = of(host);
    assertEquals(expected.bindingState(), now.bindingState(), context);
    assertEquals(expected, now, context + ": some device attribute changed");
  }
}
