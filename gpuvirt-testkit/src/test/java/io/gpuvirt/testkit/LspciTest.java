package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** pciutils' lspci, with no gpuvirt code in the way, reads the simulated trees as real sysfs. */
final class LspciTest {
  private static final Map<String, SimulatedHost> HOSTS = new HashMap<>();

  @BeforeAll
  static void writeHosts() {
    for (String name : HostProfile.presetNames()) {
      HOSTS.put(name, SimulatedHost.create(HostProfile.preset(name)));
    }
  }

  @AfterAll
  static void deleteHosts() {
    HOSTS.values().forEach(SimulatedHost::close);
  }

  static List<String> presets() {
    return HostProfile.presetNames();
  }

  @ParameterizedTest
  @MethodSource("presets")
  void lspciTree_showsEveryBridgeRange(String preset) {
    SimulatedHost host = HOSTS.get(preset);
    String tree = Tools.lspci(host, "-t");
    List<String> missing = new ArrayList<>();
    for (PciDevice d : host.expectedTopology().devices()) {
      if (d.busRange().isPresent()) {
        String token = String.format("%02x.%d-%s", d.address().device(), d.address().function(),
            d.busRange().get());
        if (!tree.contains(token)) {
          missing.add(token);
        }
      }
    }
    assertEquals(List.of(), missing, tree);
  }

  @ParameterizedTest
  @MethodSource("presets")
  void lspciTree_nestsEveryDeviceUnderItsParent(String preset) {
    SimulatedHost host = HOSTS.get(preset);
    assertEquals(parentsOf(host.expectedTopology()), LspciTrees.parents(Tools.lspci(host, "-t")),
        preset);
  }

  @ParameterizedTest
  @MethodSource("presets")
  void lspci_listsEveryDeviceWithItsIds(String preset) {
    SimulatedHost host = HOSTS.get(preset);
    List<String> expected = host.expectedTopology().devices().stream()
        .map(d -> d.address() + " " + d.id()).toList();
    List<String> listed = Tools.lspci(host, "-Dn").lines()
        .map(l -> l.split(" ")[0] + " " + l.split(" ")[2]).toList();
    assertEquals(expected, listed);
  }

  @Test
  void hgxB200_lspciShowsEightB200sBehindThreeBridgeLevels() {
    String tree = Tools.lspci(HOSTS.get("hgx-b200"), "-tvn", "-d", "10de:2901");
    List<Integer> levels = new ArrayList<>();
    for (String line : tree.lines().toList()) {
      if (line.contains("10de:2901")) {
        String path = line.substring(line.indexOf("-[0000:"));
        levels.add(count(path, "\\.\\d-\\[[0-9a-f]{2}(-[0-9a-f]{2})?\\]"));
      }
    }
    assertEquals(List.of(3, 3, 3, 3, 3, 3, 3, 3), levels, tree);
  }

  @Test
  void hgxB200_lspciShowsTheSeedsBranchFor1700() {
    String tree = Tools.lspci(HOSTS.get("hgx-b200"), "-tv", "-d", "10de:2901");
    assertTrue(tree.contains("[0000:14]---02.0-[15-1a]----00.0-[16-1a]--+-00.0-[17]----00.0"),
        tree);
  }

  @Test
  void hgxB200_lspciNamesTheGpusAsThreeDControllers() {
    List<String> lines = Tools.lspci(HOSTS.get("hgx-b200"), "-nn", "-d", "10de:2901").lines()
        .toList();
    assertEquals(8, lines.stream().filter(l -> l.contains("3D controller [0302]")
        && l.contains("[10de:2901] (rev a1)")).count(), String.join("\n", lines));
  }

  @Test
  void hgxB200_lspciVerboseShowsThe256GRegionOfEveryGpu() {
    SimulatedHost host = HOSTS.get("hgx-b200");
    List<String> wrong = new ArrayList<>();
    for (PciDevice gpu : host.expectedTopology().gpus()) {
      String out = Tools.lspci(host, "-vv", "-s", gpu.address().toString());
      Matcher m = Pattern.compile("Region 2: Memory at ([0-9a-f]+) \\(64-bit, prefetchable\\) "
          + "\\[size=256G\\]\n").matcher(out);
      if (!m.find() || Long.parseLong(m.group(1), 16) != gpu.bars().get(1).start()) {
        wrong.add(gpu.address() + ":\n" + out);
      }
    }
    assertEquals(List.of(), wrong);
  }

  @Test
  void hgxB200_lspciShowsTheSlotLabel() {
    assertTrue(Tools.lspci(HOSTS.get("hgx-b200"), "-v", "-s", "17:00.0")
        .contains("DeviceName: #GPU0"));
  }

  @Test
  void hgxB200_lspciMachineOutputHasGroupNumaAndDriver() {
    String out = Tools.lspci(HOSTS.get("hgx-b200"), "-vnmm", "-k", "-s", "98:00.0");
    int group = HOSTS.get("hgx-b200").expectedTopology().gpus().get(4).iommuGroup().getAsInt();
    assertEquals(List.of(true, true, true), List.of(out.contains("\nNUMANode:\t1\n"),
        out.contains("\nIOMMUGroup:\t" + group + "\n"), out.contains("\nDriver:\tnvidia\n")), out);
  }

  @Test
  void iommuOff_lspciShowsNoGroups() {
    assertTrue(!Tools.lspci(HOSTS.get("iommu-off"), "-vnmm").contains("IOMMUGroup"));
  }

  @Test
  void lspciVerbose_namesThePortTypesFromConfigSpace() {
    SimulatedHost host = HOSTS.get("hgx-b200");
    List<Boolean> found = new ArrayList<>();
    Map<String, String> expected = Map.of("14:02.0", "Express (v2) Root Port (Slot+)",
        "15:00.0", "Express (v2) Upstream Port", "16:00.0", "Express (v2) Downstream Port (Slot+)",
        "17:00.0", "Express (v2) Endpoint");
    expected.forEach((bdf, text) -> found.add(Tools.lspci(host, "-vv", "-s", bdf)
        .contains(text)));
    assertEquals(List.of(true, true, true, true), found);
  }

  @Test
  void lspciVerbose_showsAcsOnlyWhereThePortHasIt() {
    assertEquals(List.of(true, false), List.of(
        Tools.lspci(HOSTS.get("hgx-b200"), "-vvv", "-s", "16:00.0")
            .contains("Access Control Services"),
        Tools.lspci(HOSTS.get("no-acs"), "-vvv", "-s", "02:00.0")
            .contains("Access Control Services")));
  }

  @Test
  void lspci_seesADriverChangeMadeThroughTheKernelModel() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      host.sysfs().write("/sys/bus/pci/devices/0000:01:00.0/driver_override", "vfio-pci");
      host.sysfs().write("/sys/bus/pci/devices/0000:01:00.0/driver/unbind", "0000:01:00.0");
      host.sysfs().write("/sys/bus/pci/drivers_probe", "0000:01:00.0");
      assertTrue(Tools.lspci(host, "-vmm", "-k", "-s", "01:00.0").contains("\nDriver:\tvfio-pci\n"));
    }
  }

  @Test
  void lspci_listsVirtualFunctionsAfterSriovNumvfs() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      host.sysfs().write("/sys/bus/pci/devices/0000:18:00.0/sriov_numvfs", "4");
      assertEquals(4, Tools.lspci(host, "-n", "-d", "15b3:101e").lines().count());
    }
  }

  private static Map<String, String> parentsOf(Topology t) {
    Map<String, String> out = new HashMap<>();
    for (PciDevice d : t.devices()) {
      out.put(d.address().toString(), d.parent().map(Object::toString).orElse(d.rootBus()));
    }
    return out;
  }

  private static int count(String s, String regex) {
    Matcher m = Pattern.compile(regex).matcher(s);
    int n = 0;
    while (m.find()) {
      n++;
    }
    return n;
  }
}
