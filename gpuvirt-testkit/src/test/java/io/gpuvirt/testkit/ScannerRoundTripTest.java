package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every simulated host scans back, through core's real scanner, to exactly the topology it models. */
final class ScannerRoundTripTest {

  static Stream<String> presets() {
    return HostProfile.presetNames().stream();
  }

  static IntStream seeds() {
    return IntStream.range(0, 30);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("presets")
  void scan_preset_equalsExpectedTopology(String preset) {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.preset(preset))) {
      assertSame(host.expectedTopology(), TopologyScanner.scan(host.sysfs()), preset);
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void scan_randomHost_equalsExpectedTopology(int seed) {
    HostProfile profile = RandomHosts.profile(new SplittableRandom(seed));
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      assertSame(host.expectedTopology(), TopologyScanner.scan(host.sysfs()), "seed " + seed);
    }
  }

  private static void assertSame(Topology expected, Topology scanned, String what) {
    assertEquals(expected.devices(), scanned.devices(), what + ": devices differ");
    assertEquals(expected.iommuGroups(), scanned.iommuGroups(), what + ": IOMMU groups differ");
  }
}
