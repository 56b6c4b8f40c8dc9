package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Properties of random hosts, checked over many seeds; every assertion names its seed so that a
 * failure replays with {@code RandomHosts.profile(new SplittableRandom(seed))}.
 */
final class RandomHostsTest {
  private static final int PROFILE_SEEDS = 400;

  static LongStream treeSeeds() {
    return LongStream.range(0, 40);
  }

  static LongStream lspciSeeds() {
    return LongStream.range(1000, 1025);
  }

  static LongStream operationSeeds() {
    return LongStream.range(2000, 2015);
  }

  private static HostProfile profile(long seed) {
    return RandomHosts.profile(new SplittableRandom(seed));
  }

  @Test
  void sameSeed_givesTheSameProfile() {
    for (long seed = 0; seed < 50; seed++) {
      assertEquals(profile(seed), profile(seed), "seed " + seed);
    }
  }

  @Test
  void profiles_haveZeroToSixteenGpus() {
    for (long seed = 0; seed < PROFILE_SEEDS; seed++) {
      int gpus = profile(seed).gpus().size();
      assertTrue(gpus >= 0 && gpus <= 16, "seed " + seed + ": " + gpus + " GPUs");
    }
  }

  @Test
  void profiles_coverTheShapesTheGeneratorPromises() {
    TreeSet<String> seen = new TreeSet<>();
    for (long seed = 0; seed < PROFILE_SEEDS; seed++) {
      Topology t = ExpectedTopology.of(profile(seed), "seed " + seed);
      seen.add(t.iommuEnabled() ? "iommu on" : "iommu off");
      if (t.gpus().isEmpty()) {
        seen.add("no GPU");
      }
      if (t.gpus().size() == 16) {
        seen.add("16 GPUs");
      }
      for (PciDevice d : t.devices()) {
        int depth = t.upstreamChain(d.address()).size();
        if (d.isGpu()) {
          seen.add("GPU " + Math.min(depth, 7) + " bridges deep");
        }
        if (d.numaNode() == -1) {
          seen.add("NUMA -1");
        }
        if (d.numaNode() == 1) {
          seen.add("NUMA 1");
        }
        if (d.pciClass().code() == 0x040300) {
          seen.add("audio companion");
        }
        if (d.isNvSwitch()) {
          seen.add("NVSwitch");
        }
        if (d.isVirtualFunction()) {
          seen.add("VF");
        }
        if (d.address().domain() > 0) {
          seen.add("second domain");
        }
      }
      for (var g : t.iommuGroups()) {
        if (t.members(g).stream().filter(d -> !d.isBridge()).map(d -> d.address().withFunction(0))
            .distinct().count() > 1) {
          seen.add("group shared by endpoints of two slots");
        }
      }
    }
    List<String> wanted = List.of("iommu on", "iommu off", "no GPU", "16 GPUs",
        "GPU 0 bridges deep", "GPU 1 bridges deep", "GPU 3 bridges deep", "GPU 5 bridges deep",
        "GPU 7 bridges deep", "NUMA -1", "NUMA 1", "audio companion", "NVSwitch", "VF",
        "second domain", "group shared by endpoints of two slots");
    assertEquals(List.of(), wanted.stream().filter(w -> !seen.contains(w)).toList(),
        "seen: " + seen);
  }

  @ParameterizedTest
  @MethodSource("treeSeeds")
  void tree_readsBackToTheExpectedTopology(long seed) {
    try (SimulatedHost host = SimulatedHost.create(profile(seed))) {
      Topology read = ContractReader.scan(host.sysfs());
      Topology expected = host.expectedTopology();
      assertEquals(List.of(expected.devices(), expected.iommuGroups()),
          List.of(read.devices(), read.iommuGroups()), "seed " + seed);
    }
  }

  @ParameterizedTest
  @MethodSource("lspciSeeds")
  void lspciTree_nestsEveryDeviceAsTheProfileSays(long seed) {
    try (SimulatedHost host = SimulatedHost.create(profile(seed))) {
      Map<String, String> expected = new HashMap<>();
      for (PciDevice d : host.expectedTopology().devices()) {
        expected.put(d.address().toString(),
            d.parent().map(Object::toString).orElse(d.rootBus()));
      }
      assertEquals(expected, LspciTrees.parents(Tools.lspci(host, "-t")), "seed " + seed);
    }
  }

  /**
   * Random driver switches, SR-IOV changes, resets, removes and rescans, mixed with writes the
   * kernel refuses, never leave the tree inconsistent.
   */
  @ParameterizedTest
  @MethodSource("operationSeeds")
  void randomWrites_keepTheTreeConsistent(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    try (SimulatedHost host = SimulatedHost.create(profile(seed))) {
      Sysfs s = host.sysfs();
      List<String> log = new ArrayList<>();
      for (int step = 0; step < 30; step++) {
        List<String> devices = s.list("/sys/bus/pci/devices");
        if (devices.isEmpty()) {
          s.write("/sys/bus/pci/rescan", "1");
          log.add("rescan of an empty host");
          continue;
        }
        String bdf = devices.get(rnd.nextInt(devices.size()));
        String dev = "/sys/bus/pci/devices/" + bdf;
        String[] drivers = {"vfio-pci", "nvidia", "mlx5_core", "none", ""};
        String op;
        String path;
        String value;
        switch (rnd.nextInt(8)) {
          case 0 -> { path = dev + "/driver_override"; value = drivers[rnd.nextInt(5)]; }
          case 1 -> { path = dev + "/driver/unbind"; value = bdf; }
          case 2 -> { path = "/sys/bus/pci/drivers_probe"; value = bdf; }
          case 3 -> { path = "/sys/bus/pci/drivers/vfio-pci/bind"; value = bdf; }
          case 4 -> { path = dev + "/sriov_numvfs"; value = Integer.toString(rnd.nextInt(5)); }
          case 5 -> { path = dev + "/reset"; value = rnd.nextBoolean() ? "1" : "0"; }
          case 6 -> { path = dev + "/remove"; value = "1"; }
          default -> { path = "/sys/bus/pci/rescan"; value = "1"; }
        }
        op = path + " <- '" + value + "'";
        try {
          s.write(path, value);
          log.add(op);
        } catch (GpuvirtException e) {
          log.add(op + " refused: " + e.getMessage());
        }
        String problem = consistency(s);
        if (problem != null) {
          fail("seed " + seed + " step " + step + ": " + problem + "\nafter:\n"
              + String.join("\n", log));
        }
      }
    }
  }

  /** What is inconsistent about the tree, or null. */
  private static String consistency(Sysfs s) {
    Topology t;
    try {
      t = ContractReader.scan(s);
    } catch (RuntimeException e) {
      return "the tree does not read: " + e;
    }
    for (PciDevice d : t.devices()) {
      if (d.driver().isPresent()
          && !s.exists("/sys/bus/pci/drivers/" + d.driver().get() + "/" + d.address())) {
        return d.address() + " links to " + d.driver().get() + ", which does not list it";
      }
      if (d.sriov().isPresent()
          && d.sriov().get().numVfs() != d.sriov().get().virtualFunctions().size()) {
        return d.address() + " sriov_numvfs disagrees with its virtfn links";
      }
      if (d.parent().isPresent() && t.device(d.parent().get()).isEmpty()) {
        return d.address() + " sits behind " + d.parent().get() + ", which is gone";
      }
    }
    for (String driver : s.list("/sys/bus/pci/drivers")) {
      for (String e : s.list("/sys/bus/pci/drivers/" + driver)) {
        if (PciAddress.isValid(e)) {
          Optional<PciDevice> d = t.device(PciAddress.parse(e));
          if (d.isEmpty() || !d.get().driver().equals(Optional.of(driver))) {
            return driver + " lists " + e + ", which is not bound to it";
          }
        }
      }
    }
    for (var g : t.iommuGroups()) {
      if (g.members().isEmpty() || t.members(g).stream()
          .anyMatch(d -> d.iommuGroup().getAsInt() != g.number())) {
        return "IOMMU group " + g.number() + " disagrees with its members' links";
      }
    }
    return null;
  }
}
