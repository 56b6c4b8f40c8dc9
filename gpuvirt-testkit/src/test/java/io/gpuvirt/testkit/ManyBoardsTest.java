package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.host.SysfsFormatException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import java.nio.file.Files;
import java.nio.file.Path;
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

  /** Boards enough for the scanner's threads: at least {@code PARALLEL_FROM} (512) functions. */
  private static final int PARALLEL_BOARDS = 9;

  @Test
  void scan_ofAHostLargeEnoughForThreads_equalsExpectedTopology_scanAfterScan() {
    try (SimulatedHost host = SimulatedHost.create(ManyBoards.profile(PARALLEL_BOARDS))) {
      Topology expected = host.expectedTopology();
      assertTrue(expected.devices().size() >= 512, "" + expected.devices().size());
      // the simulated seam, and the file-system seam (which moves to the C library after 512
      // directories): every scan the same, whichever threads read which device
      for (Sysfs sysfs : List.of(host.sysfs(), Sysfs.at(host.root()), Sysfs.at(host.root()))) {
        Topology scanned = TopologyScanner.scan(sysfs);
        assertEquals(List.of(expected.devices(), expected.iommuGroups()),
            List.of(scanned.devices(), scanned.iommuGroups()));
      }
    }
  }

  @Test
  void scan_ofALargeHostWithTwoCorruptDevices_namesTheFirstInOrder_everyTime() throws Exception {
    try (SimulatedHost host = SimulatedHost.create(ManyBoards.profile(PARALLEL_BOARDS))) {
      List<PciAddress> gpus = host.expectedTopology().devices().stream().filter(PciDevice::isGpu)
          .map(PciDevice::address).sorted().toList();
      PciAddress first = gpus.get(3);
      PciAddress last = gpus.get(gpus.size() - 2);
      for (PciAddress a : List.of(last, first)) {
        Path vendor = host.root().resolve(a.sysfsPath().substring(1)).resolve("vendor");
        Files.writeString(vendor, "0x10DE\n");
      }
      for (int i = 0; i < 5; i++) {
        SysfsFormatException e = assertThrows(SysfsFormatException.class,
            () -> TopologyScanner.scan(Sysfs.at(host.root())));
        assertEquals(first.sysfsPath() + "/vendor", e.path());
      }
    }
  }

  @Test
  void scan_ofALargeHostWithTwoCorruptGroups_namesTheFirstInListingOrder_everyTime()
      throws Exception {
    try (SimulatedHost host = SimulatedHost.create(ManyBoards.profile(PARALLEL_BOARDS))) {
      assertTrue(host.expectedTopology().iommuGroups().size() >= 512,
          "" + host.expectedTopology().iommuGroups().size());
      Path groups = host.root().resolve("sys/kernel/iommu_groups");
      List<String> names;
      try (var listing = Files.list(groups)) {
        names = listing.map(p -> p.getFileName().toString()).sorted().toList();
      }
      String first = names.get(5);
      String last = names.get(names.size() - 3);
      for (String group : List.of(last, first)) {
        Files.writeString(groups.resolve(group).resolve("devices/not-a-device"), "x\n");
      }
      for (int i = 0; i < 5; i++) {
        SysfsFormatException e = assertThrows(SysfsFormatException.class,
            () -> TopologyScanner.scan(Sysfs.at(host.root())));
        assertEquals("/sys/kernel/iommu_groups/" + first + "/devices/not-a-device", e.path());
      }
    }
  }

  /**
   * A large host's group directory is listed by another thread while the devices are read; its
   * failure still comes after a device's, as when the groups are listed once the devices are.
   */
  @Test
  void scan_ofALargeHostWithACorruptDeviceAndABadGroupName_namesTheDevice_everyTime()
      throws Exception {
    try (SimulatedHost host = SimulatedHost.create(ManyBoards.profile(PARALLEL_BOARDS))) {
      PciAddress gpu = host.expectedTopology().devices().stream().filter(PciDevice::isGpu)
          .map(PciDevice::address).sorted().toList().get(7);
      Files.writeString(host.root().resolve(gpu.sysfsPath().substring(1)).resolve("vendor"),
          "0x10DE\n");
      Files.createDirectory(host.root().resolve("sys/kernel/iommu_groups/group-x"));
      for (int i = 0; i < 5; i++) {
        SysfsFormatException e = assertThrows(SysfsFormatException.class,
            () -> TopologyScanner.scan(Sysfs.at(host.root())));
        assertEquals(gpu.sysfsPath() + "/vendor", e.path());
      }
    }
  }

  @Test
  void scan_ofALargeHostWithABadGroupName_namesTheGroupsDirectory() throws Exception {
    try (SimulatedHost host = SimulatedHost.create(ManyBoards.profile(PARALLEL_BOARDS))) {
      Files.createDirectory(host.root().resolve("sys/kernel/iommu_groups/group-x"));
      for (Sysfs sysfs : List.of(host.sysfs(), Sysfs.at(host.root()))) {
        SysfsFormatException e = assertThrows(SysfsFormatException.class,
            () -> TopologyScanner.scan(sysfs));
        assertEquals("/sys/kernel/iommu_groups", e.path());
        assertTrue(e.getMessage().contains("group-x"), e.getMessage());
      }
    }
  }

  /**
   * A platform may scan from a thread while every thread of the common pool is busy with its own
   * work: the scan then reads everything on the calling thread, and waits for no pool thread.
   */
  @Test
  void scan_ofALargeHost_whileTheCommonPoolIsBusy_finishesOnTheCallingThread() throws Exception {
    try (SimulatedHost host = SimulatedHost.create(ManyBoards.profile(PARALLEL_BOARDS))) {
      int workers = java.util.concurrent.ForkJoinPool.getCommonPoolParallelism();
      java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(workers);
      java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
      List<java.util.concurrent.ForkJoinTask<?>> busy = new java.util.ArrayList<>();
      try {
        for (int i = 0; i < workers; i++) {
          busy.add(java.util.concurrent.ForkJoinPool.commonPool().submit(() -> {
            started.countDown();
            release.await();
            return null;
          }));
        }
        assertTrue(started.await(30, java.util.concurrent.TimeUnit.SECONDS));
        Topology expected = host.expectedTopology();
        Topology scanned = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
            java.time.Duration.ofSeconds(60), () -> TopologyScanner.scan(Sysfs.at(host.root())));
        assertEquals(List.of(expected.devices(), expected.iommuGroups()),
            List.of(scanned.devices(), scanned.iommuGroups()));
      } finally {
        release.countDown();
        busy.forEach(java.util.concurrent.ForkJoinTask::quietlyJoin);
      }
    }
  }
}
