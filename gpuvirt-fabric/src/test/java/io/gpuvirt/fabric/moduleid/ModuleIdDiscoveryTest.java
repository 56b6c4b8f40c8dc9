package io.gpuvirt.fabric.moduleid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.fabric.FakeNvidiaSmi;
import io.gpuvirt.testkit.fabric.NvidiaSmiFormat;
import io.gpuvirt.testkit.fabric.SimulatedGpu;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Module ids from nvidia-smi -q output: both formats, and every way the output can be wrong. */
final class ModuleIdDiscoveryTest {
  /** The brief's HGX B200: 17→1, 3d→4, 60→2, 70→3, 98→7, bb→5, dd→8, ed→6. */
  static final ModuleIdMap B200 = new ModuleIdMap(Map.of(
      1, PciAddress.parse("0000:17:00.0"), 4, PciAddress.parse("0000:3d:00.0"),
      2, PciAddress.parse("0000:60:00.0"), 3, PciAddress.parse("0000:70:00.0"),
      7, PciAddress.parse("0000:98:00.0"), 5, PciAddress.parse("0000:bb:00.0"),
      8, PciAddress.parse("0000:dd:00.0"), 6, PciAddress.parse("0000:ed:00.0")));

  private static String report(NvidiaSmiFormat format) {
    return new FakeNvidiaSmi(SimulatedGpu::hgxB200, "580.95.05", format).report();
  }

  private static ModuleIdDiscoveryException refusal(String text) {
    return assertThrows(ModuleIdDiscoveryException.class,
        () -> ModuleIdDiscovery.parseNvidiaSmi(text, "nvidia-smi -q"));
  }

  @ParameterizedTest
  @EnumSource(NvidiaSmiFormat.class)
  void parseNvidiaSmi_hgxB200_readsTheModuleIdMap(NvidiaSmiFormat format) {
    assertEquals(B200, ModuleIdDiscovery.parseNvidiaSmi(report(format), "test").moduleIds());
  }

  @Test
  void parseNvidiaSmi_hgxB200_moduleIdsDoNotFollowPciOrder() {
    assertEquals(Optional.of(PciAddress.parse("0000:3d:00.0")), ModuleIdDiscovery
        .parseNvidiaSmi(report(NvidiaSmiFormat.PLATFORM_INFO), "test").moduleIds().address(4));
  }

  @Test
  void parseNvidiaSmi_driverVersion_read() {
    assertEquals(Optional.of("580.95.05"), ModuleIdDiscovery
        .parseNvidiaSmi(report(NvidiaSmiFormat.PLATFORM_INFO), "test").driverVersion());
  }

  @Test
  void parseNvidiaSmi_eightDigitDomain_parsed() {
    List<SimulatedGpu> gb300 = List.of(
        SimulatedGpu.of(2, PciAddress.parse("0008:01:00.0"), "NVIDIA GB300", 0x31c2),
        SimulatedGpu.of(1, PciAddress.parse("0009:01:00.0"), "NVIDIA GB300", 0x31c2));
    String text = new FakeNvidiaSmi(() -> gb300, "580.95.05", NvidiaSmiFormat.PLATFORM_INFO)
        .report();
    assertEquals(new ModuleIdMap(Map.of(2, PciAddress.parse("0008:01:00.0"),
        1, PciAddress.parse("0009:01:00.0"))),
        ModuleIdDiscovery.parseNvidiaSmi(text, "test").moduleIds());
  }

  @Test
  void parseNvidiaSmi_gpuWithoutModuleId_namesTheGpu() {
    String text = report(NvidiaSmiFormat.PLATFORM_INFO)
        .replaceFirst("(?m)^        Module Id\\s+: 4\\n", "");
    assertTrue(refusal(text).getMessage().contains("0000:3d:00.0"));
  }

  @Test
  void parseNvidiaSmi_moduleIdNotAvailable_namesTheGpu() {
    String text = report(NvidiaSmiFormat.MODULE_ID_LINE).replaceFirst("Module ID(\\s+): 1\n",
        "Module ID$1: N/A\n");
    assertTrue(refusal(text).getMessage().contains("0000:17:00.0"));
  }

  @Test
  void parseNvidiaSmi_duplicateModuleId_namesBothGpus() {
    String text = report(NvidiaSmiFormat.PLATFORM_INFO).replaceFirst("Module Id(\\s+): 4",
        "Module Id$1: 1");
    String message = refusal(text).getMessage();
    assertTrue(message.contains("0000:17:00.0") && message.contains("0000:3d:00.0"), message);
  }

  @Test
  void parseNvidiaSmi_allModuleIdsZero_explainsTheBaseboard() {
    String text = report(NvidiaSmiFormat.MODULE_ID_LINE).replaceAll("Module ID(\\s+): \\d",
        "Module ID$1: 0");
    assertTrue(refusal(text).getMessage().contains("baseboard"));
  }

  @Test
  void parseNvidiaSmi_bothFormatsDisagree_refused() {
    String text = report(NvidiaSmiFormat.PLATFORM_INFO).replaceFirst(
        "(?m)^(    VBIOS Version.*\\n)", "$1    Module ID                             : 5\n");
    assertTrue(refusal(text).getMessage().contains("two different module ids"));
  }

  @Test
  void parseNvidiaSmi_bothFormatsAgree_accepted() {
    String text = report(NvidiaSmiFormat.PLATFORM_INFO).replaceFirst(
        "(?m)^(    VBIOS Version.*\\n)", "$1    Module ID                             : 1\n");
    assertEquals(B200, ModuleIdDiscovery.parseNvidiaSmi(text, "test").moduleIds());
  }

  @Test
  void parseNvidiaSmi_truncatedOutput_refused() {
    String full = report(NvidiaSmiFormat.PLATFORM_INFO);
    String text = full.substring(0, full.lastIndexOf("GPU 00000000"));
    assertTrue(refusal(text).getMessage().contains("truncated"));
  }

  @Test
  void parseNvidiaSmi_busIdDisagreesWithSection_refused() {
    String text = report(NvidiaSmiFormat.PLATFORM_INFO).replaceFirst("Bus Id(\\s+): 00000000:17",
        "Bus Id$1: 00000000:18");
    assertTrue(refusal(text).getMessage().contains("Bus Id"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "No devices were found\n",
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"})
  void parseNvidiaSmi_noGpuSection_refused(String text) {
    refusal(text);
  }

  @Test
  void parseNvidiaSmi_moduleIdNotANumber_refused() {
    refusal(report(NvidiaSmiFormat.MODULE_ID_LINE).replaceFirst("Module ID(\\s+): 2",
        "Module ID$1: two"));
  }

  @Test
  void parseNvidiaSmi_sameGpuTwice_refused() {
    String one = report(NvidiaSmiFormat.MODULE_ID_LINE);
    int start = one.indexOf("GPU 00000000:17");
    int end = one.indexOf("GPU 00000000:3D");
    refusal(one.replace("Attached GPUs                             : 8",
        "Attached GPUs                             : 9") + one.substring(start, end));
  }

  @Test
  void fromNvidiaSmi_throughTheRunner_readsTheFake() {
    FakeNvidiaSmi fake = new FakeNvidiaSmi(SimulatedGpu::hgxB200, "580.95.05",
        NvidiaSmiFormat.PLATFORM_INFO);
    assertEquals(B200, ModuleIdDiscovery.fromNvidiaSmi(fake, "/usr/bin/nvidia-smi").moduleIds());
  }

  @Test
  void fromNvidiaSmi_driverNotLoaded_refusedWithItsMessage() {
    CommandRunner failing = c -> new CommandResult(c.argv(), 9, "NVIDIA-SMI has failed because it "
        + "couldn't communicate with the NVIDIA driver.\n", "", Duration.ofMillis(1), false);
    ModuleIdDiscoveryException e = assertThrows(ModuleIdDiscoveryException.class,
        () -> ModuleIdDiscovery.fromNvidiaSmi(failing, "nvidia-smi"));
    assertTrue(e.getMessage().contains("couldn't communicate"), e.getMessage());
  }

  @Test
  void crossCheck_sameMaps_returnsTheMap() {
    assertEquals(B200, ModuleIdDiscovery.crossCheck(B200, "a", B200, "b"));
  }

  @Test
  void crossCheck_swappedIds_namesTheGpus() {
    Map<Integer, PciAddress> swapped = new TreeMap<>(B200.byModuleId());
    swapped.put(1, B200.address(2).orElseThrow());
    swapped.put(2, B200.address(1).orElseThrow());
    ModuleIdDiscoveryException e = assertThrows(ModuleIdDiscoveryException.class,
        () -> ModuleIdDiscovery.crossCheck(B200, "nvidia-smi", new ModuleIdMap(swapped), "NVML"));
    assertTrue(e.getMessage().contains("0000:17:00.0") && e.getMessage().contains("0000:60:00.0"),
        e.getMessage());
  }

  /** Random boards (addresses, domains, module-id order, format): parsing returns the board. */
  @ParameterizedTest
  @ValueSource(longs = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
  void parseNvidiaSmi_randomBoards_roundTrip(long seed) {
    Random random = new Random(seed);
    TreeSet<PciAddress> addresses = new TreeSet<>();
    while (addresses.size() < 8) {
      addresses.add(new PciAddress(random.nextBoolean() ? 0 : random.nextInt(0x10000),
          random.nextInt(256), random.nextInt(32), 0));
    }
    List<Integer> ids = new ArrayList<>(List.of(1, 2, 3, 4, 5, 6, 7, 8));
    Collections.shuffle(ids, random);
    List<SimulatedGpu> gpus = new ArrayList<>();
    Map<Integer, PciAddress> expected = new TreeMap<>();
    int i = 0;
    for (PciAddress a : addresses) {
      gpus.add(SimulatedGpu.of(ids.get(i), a, "NVIDIA B200", SimulatedGpu.B200_DEVICE_ID));
      expected.put(ids.get(i++), a);
    }
    NvidiaSmiFormat format = NvidiaSmiFormat.values()[random.nextInt(2)];
    String text = new FakeNvidiaSmi(() -> gpus, "580.95.05", format).report();
    assertEquals(new ModuleIdMap(expected),
        ModuleIdDiscovery.parseNvidiaSmi(text, "test").moduleIds(), "seed " + seed);
  }
}
