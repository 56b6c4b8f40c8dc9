package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The many-boards host of the benchmarks ({@link HostProfile#manyB200Boards}) is a valid profile
 * that scans back to itself.
 */
final class ManyBoardsTest {

  @Test
  void profile_ofThreeBoards_hasEachBoardsFunctionsInItsOwnDomain() {
    Map<Integer, Long> perDomain = ManyBoards.profile(3).devices().stream()
        .collect(Collectors.groupingBy(d -> d.address().domain(), Collectors.counting()));
    long perBoard = ManyBoards.FUNCTIONS_PER_BOARD;
    assertEquals(Map.of(0, perBoard, 1, perBoard, 2, perBoard), perDomain);
  }

  @Test
  void profile_ofSeventyOneBoards_isAValidHostOfAbout4100Functions() {
    assertEquals(71 * ManyBoards.FUNCTIONS_PER_BOARD, ManyBoards.profile(71).devices().size());
  }

  @Test
  void profile_keepsTheModuleIdsOfBoardZeroOnly() {
    assertEquals(HostProfile.hgxB200().moduleIds(), ManyBoards.profile(2).moduleIds());
  }

  @Test
  void manyB200Boards_isTheProfileOfThatManyBoardsAndNoPreset() {
    HostProfile host = HostProfile.manyB200Boards(4);
    assertEquals(List.of(4 * ManyBoards.FUNCTIONS_PER_BOARD, false),
        List.of(host.devices().size(), HostProfile.presetNames().contains(host.name())));
  }

  @Test
  void profile_ofNoBoards_isRefused() {
    assertThrows(InvalidValueException.class, () -> ManyBoards.profile(0));
  }

  @Test
  void scan_ofTwoBoards_equalsExpectedTopology() {
    try (SimulatedHost host = SimulatedHost.create(ManyBoards.profile(2))) {
      Topology scanned = TopologyScanner.scan(host.sysfs());
      assertEquals(List.of(host.expectedTopology().devices(),
          host.expectedTopology().iommuGroups()), List.of(scanned.devices(),
          scanned.iommuGroups()));
    }
  }

  @Test
  void scan_ofTwoBoards_findsSixteenGpus() {
    try (SimulatedHost host = SimulatedHost.create(ManyBoards.profile(2))) {
      assertEquals(16, TopologyScanner.scan(host.sysfs()).devices().stream()
          .filter(PciDevice::isGpu).count());
    }
  }
}
