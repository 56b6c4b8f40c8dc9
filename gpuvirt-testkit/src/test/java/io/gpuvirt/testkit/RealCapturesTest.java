package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.doctor.HostDoctor;
import io.gpuvirt.core.doctor.ReadinessReport;
import io.gpuvirt.core.doctor.Severity;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The simulated hosts held against outputs published from real hosts (each capture under
 * {@code src/test/resources/captures} has a {@code .source} saying where it was published and
 * what was scrubbed). Where a real host and a profile agree, the test asserts it point by point;
 * where they differ for a reason (another board revision, another pci.ids), the test asserts the
 * difference and says why, so a change on either side is noticed.
 */
final class RealCapturesTest {
  private static final Path DIR = Path.of("src/test/resources/captures");
  private static final Pattern REGION = Pattern.compile(
      "Region (\\d): Memory at ([0-9a-f]+) \\(([^)]*)\\) \\[size=([0-9]+[KMGT]?)\\]");
  private static final Pattern GROUP_LINE = Pattern.compile(
      "IOMMU Group (\\d+): ([0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]) [^\\[]*\\[([0-9a-f]{4})\\]: .*"
          + "\\[([0-9a-f]{4}):([0-9a-f]{4})\\].*");

  private static String capture(String name) {
    try {
      return Files.readString(DIR.resolve(name), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The lines of {@code text} that are lspci's Region lines, leading whitespace removed. */
  private static List<String> regions(String text) {
    return text.lines().map(String::strip).filter(l -> REGION.matcher(l).matches()).toList();
  }

  /** Region lines without their addresses: index, flags and size are the layout. */
  private static List<String> regionLayout(String text) {
    return regions(text).stream().map(l -> {
      Matcher m = REGION.matcher(l);
      m.matches();
      return "Region " + m.group(1) + " (" + m.group(3) + ") [size=" + m.group(4) + "]";
    }).toList();
  }

  @Test
  void captures_everyOneHasItsSource() throws IOException {
    try (Stream<Path> files = Files.walk(DIR)) {
      List<Path> missing = files.filter(p -> p.toString().endsWith(".txt"))
          .filter(p -> !Files.exists(Path.of(p.toString().replaceFirst("\\.txt$", ".source"))))
          .toList();
      assertEquals(List.of(), missing);
    }
  }

  // ---- HGX B200 (the seed post) ----

  /** The buses and devices of an {@code lspci -tv} line from {@code [0000:14]} to the GPU. */
  private static List<String> chain(String line, String from, String to) {
    String part = line.substring(line.indexOf(from), line.indexOf(to) + to.length());
    List<String> tokens = new ArrayList<>();
    Matcher m = Pattern.compile("\\[[0-9a-f:-]+\\]|[0-9a-f]{2}\\.[0-7]").matcher(part);
    while (m.find()) {
      tokens.add(m.group());
    }
    return tokens;
  }

  @Test
  void lspciTree_hgxB200Gpu_sitsBehindTheSameBridgesAndBusRangesAsOnTheRealHost() {
    // Compared token by token (buses, ranges, devices): lspci releases draw the connector of a
    // sibling that -d filtered out differently ("--+-" here for the simulated ConnectX-7 port
    // 16:01.0, "----" in the post), and the post's page shows the root bus line as "-[0000:00]-".
    String real = capture("hgx-b200/lspci-tv-d-10de-2901.txt").lines().findFirst().orElseThrow();
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200())) {
      String simulated = Tools.lspci(host, "-tv", "-d", "10de:2901").lines().findFirst()
          .orElseThrow();

      assertEquals(List.of("[0000:14]", "02.0", "[15-1a]", "00.0", "[16-1a]", "00.0", "[17]",
          "00.0"), chain(real, "[0000:14]", "[17]----00.0"));
      assertEquals(chain(real, "[0000:14]", "[17]----00.0"),
          chain(simulated, "[0000:14]", "[17]----00.0"), simulated);
    }
  }

  @Test
  void lspciRegions_hgxB200Gpu_areTheRealHostsLineForLine() {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200())) {
      assertEquals(regions(capture("hgx-b200/lspci-vvv-s-17-00.0-regions.txt")),
          regions(Tools.lspci(host, "-vvv", "-s", "17:00.0")));
    }
  }

  @Test
  void lspciK_hgxB200Gpu_sameClassAndRevisionNamedByThisHostsPciIds() {
    String real = capture("hgx-b200/lspci-k-d-10de-2901.txt").lines().findFirst().orElseThrow();
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200())) {
      String simulated = Tools.lspci(host, "-k", "-s", "17:00.0").lines().findFirst()
          .orElseThrow();
      // The real host's pci.ids predates the B200 ("Device 2901"); this machine's may name it.
      String prefix = "17:00.0 3D controller: NVIDIA Corporation ";
      assertTrue(real.startsWith(prefix) && simulated.startsWith(prefix)
          && real.endsWith("(rev a1)") && simulated.endsWith("(rev a1)"),
          "real: " + real + "\nsimulated: " + simulated);
    }
  }

  @Test
  void moduleIds_hgxB200_agreeWithThePublishedModuleIdOf17() {
    String real = capture("hgx-b200/nvidia-smi-q-module-id.txt");
    assertTrue(real.contains("GPU 00000000:17:00.0") && real.contains("Module Id : 1"), real);
    assertEquals(1, HostProfile.hgxB200().moduleIds().moduleId(
        io.gpuvirt.core.pci.PciAddress.parse("0000:17:00.0")).orElseThrow());
  }

  // ---- HGX H100 ----

  @Test
  void lspciRegions_hgxH100Gpu_haveTheRealHoppersSizesAndFlags() {
    String real = capture("hgx-h100/lspci-vvv-gpu-3b-00.0.txt");
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxH100())) {
      String simulated = Tools.lspci(host, "-vvv", "-s", "1b:00.0");

      assertEquals(regionLayout(real), regionLayout(simulated), simulated);
    }
  }

  @Test
  void lspci_hgxH100Gpu_isA3dControllerWithANumaNodeAsOnTheRealHost() {
    String real = capture("hgx-h100/lspci-vvv-gpu-3b-00.0.txt");
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxH100())) {
      String simulated = Tools.lspci(host, "-vvv", "-s", "1b:00.0");
      for (String text : List.of(real, simulated)) {
        assertTrue(text.lines().findFirst().orElseThrow().contains(" 3D controller: NVIDIA ")
            && text.lines().anyMatch(l -> l.strip().startsWith("NUMA node: ")), text);
      }
    }
  }

  /** The capture's IOMMU group listing: group number by BDF, and ids and class by BDF. */
  private record Listing(Map<String, Integer> groups, Map<String, String> ids) {
    static Listing of(String text) {
      Map<String, Integer> groups = new TreeMap<>();
      Map<String, String> ids = new TreeMap<>();
      for (String line : text.lines().toList()) {
        Matcher m = GROUP_LINE.matcher(line);
        if (m.matches()) {
          groups.put(m.group(2), Integer.parseInt(m.group(1)));
          ids.put(m.group(2), m.group(4) + ":" + m.group(5) + " class " + m.group(3));
        }
      }
      return new Listing(groups, ids);
    }

    List<String> withClass(String pciClass) {
      return ids.entrySet().stream().filter(e -> e.getValue().endsWith("class " + pciClass))
          .map(Map.Entry::getKey).toList();
    }

    long distinctGroups(List<String> bdfs) {
      return bdfs.stream().map(groups::get).distinct().count();
    }
  }

  private static Topology scan(HostProfile profile) {
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      return TopologyScanner.scan(host.sysfs());
    }
  }

  private static long distinctGroups(List<PciDevice> devices) {
    return devices.stream().map(d -> d.iommuGroup().getAsInt()).distinct().count();
  }

  @Test
  void iommuGroups_hgxH200Capture_gpusEachInTheirOwnGroupAsInTheSimulatedH100() {
    Listing real = Listing.of(capture("hgx-h200/gpu-iommu-groups.txt"));
    List<String> gpus = real.withClass("0302");
    Topology simulated = scan(HostProfile.hgxH100());

    assertEquals(List.of(8, 8), List.of((int) real.distinctGroups(gpus),
        (int) distinctGroups(simulated.gpus())));
  }

  @Test
  void iommuGroups_hgxH200Capture_nvSwitchesShareAGroupAsInHgxH100WithOneNvSwitchGroup() {
    // Platforms differ: the HGX H100 hosts put each NVSwitch in its own group (the
    // default profile); this HGX H200 board puts them in one (hgxH100(false)). Both are real.
    Listing real = Listing.of(capture("hgx-h200/gpu-iommu-groups.txt"));
    List<String> switches = real.withClass("0680");

    assertEquals(1, real.distinctGroups(switches), real.toString());
    assertEquals(1, distinctGroups(scan(HostProfile.hgxH100(false)).nvSwitches()));
    assertEquals(4, distinctGroups(scan(HostProfile.hgxH100()).nvSwitches()));
  }

  @Test
  void ids_hgxH200Capture_nvSwitchIdAndClassAsSimulated_gpusAreH200NotH100() {
    Listing real = Listing.of(capture("hgx-h200/gpu-iommu-groups.txt"));
    Topology simulated = scan(HostProfile.hgxH100());
    PciDevice nvSwitch = simulated.nvSwitches().get(0);
    String simulatedSwitch = String.format("%04x:%04x class %04x", nvSwitch.id().vendor(),
        nvSwitch.id().device(), nvSwitch.pciClass().baseAndSub());

    assertTrue(real.withClass("0680").stream().allMatch(b -> real.ids().get(b)
        .equals(simulatedSwitch)), real.ids() + " vs " + simulatedSwitch);
    // The HGX H200 carries H200 GPUs (10de:2335) on the H100 baseboard; the profile is an H100.
    List<PciId> simulatedGpus = simulated.gpus().stream().map(PciDevice::id).distinct().toList();
    assertEquals(List.of(new PciId(0x10de, 0x2330)), simulatedGpus);
    assertNotEquals(Listing.of(capture("hgx-h200/gpu-iommu-groups.txt")).withClass("0302")
        .stream().map(b -> real.ids().get(b)).collect(Collectors.toSet()),
        simulatedGpus.stream().map(id -> id + " class 0302").collect(Collectors.toSet()));
  }

  // ---- kernel command lines ----

  @Test
  void doctor_realFedoraCommandLine_seesTheIommuOptionsAndTheNouveauBlacklist() {
    String cmdline = capture("cmdline/fedora37-nouveau-blacklisted.txt").strip();
    HostProfile profile = HostProfile.hgxB200().toBuilder().cmdline(cmdline).build();
    ReadinessReport report;
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      report = HostDoctor.examine(host.sysfs(), GpuDriverPolicy.REBIND_PER_VM);
    }
    List<String> notOk = new ArrayList<>();
    for (String check : List.of("iommu.passthrough", "driver.blacklist")) {
      report.findings().stream().filter(f -> f.check().equals(check))
          .filter(f -> f.severity() != Severity.OK).forEach(f -> notOk.add(f.toString()));
    }
    assertEquals(List.of(), notOk, report.render());
  }
}
