package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.TopologyJson;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

final class TopologyCommandTest {
  @TempDir Path root;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  /** One B200 GPU behind a root port, in group 17 on NUMA node 0. */
  @BeforeEach
  void writeHost() throws IOException {
    Path port = root.resolve("sys/devices/pci0000:14/0000:14:02.0");
    Path gpu = port.resolve("0000:15:00.0");
    attributes(port, "0x8086", "0x352a", "0x060400");
    Files.writeString(port.resolve("secondary_bus_number"), "21\n");
    Files.writeString(port.resolve("subordinate_bus_number"), "21\n");
    attributes(gpu, "0x10de", "0x2901", "0x030200");
    Files.writeString(gpu.resolve("numa_node"), "0\n");
    Files.writeString(gpu.resolve("resource"),
        "0x0000228000000000 0x0000228003ffffff 0x000000000014220c\n"
        + "0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(12));
    Path devices = Files.createDirectories(root.resolve("sys/bus/pci/devices"));
    Files.createSymbolicLink(devices.resolve("0000:14:02.0"),
        Path.of("../../../devices/pci0000:14/0000:14:02.0"));
    Files.createSymbolicLink(devices.resolve("0000:15:00.0"),
        Path.of("../../../devices/pci0000:14/0000:14:02.0/0000:15:00.0"));
    Path group = Files.createDirectories(root.resolve("sys/kernel/iommu_groups/17/devices"));
    Files.createSymbolicLink(group.resolve("0000:15:00.0"),
        Path.of("../../../../devices/pci0000:14/0000:14:02.0/0000:15:00.0"));
    Files.createSymbolicLink(gpu.resolve("iommu_group"), Path.of("../../../../kernel/iommu_groups/17"));
  }

  private static void attributes(Path dir, String vendor, String device, String pciClass)
      throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("vendor"), vendor + "\n");
    Files.writeString(dir.resolve("device"), device + "\n");
    Files.writeString(dir.resolve("class"), pciClass + "\n");
    Files.writeString(dir.resolve("resource"),
        "0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(13));
  }

  private int run(String... args) {
    CommandLine cl = Cli.commandLine(new GpuvirtCli());
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    return cl.execute(args);
  }

  @Test
  void topology_simulatedRoot_printsTheSummaryThenTheTree() {
    assertEquals(0, run("topology", "--root", root.toString()));
    assertEquals(List.of("2 PCI devices, 1 GPU, 0 NVSwitches; IOMMU on: 1 group",
        "-[0000:14]---02.0-[15]----00.0  10de:2901 [0302] GPU, no driver, IOMMU group 17, NUMA 0,"
            + " BARs 64M", "Names (gpuvirt's own table):",
        "  10de:2901  NVIDIA Corporation GB100 [B200]",
        "  8086:352a  Intel Corporation Device 352a"), out.toString().lines().toList());
  }

  @Test
  void topology_pciIdsUnderTheRoot_namesDevicesFromIt() throws java.io.IOException {
    Path ids = root.resolve("usr/share/misc/pci.ids");
    java.nio.file.Files.createDirectories(ids.getParent());
    java.nio.file.Files.writeString(ids, "8086  Intel Corporation\n\t352a  Test root port\n"
        + "10de  NVIDIA Corporation\n\t2901  not the own table's name\nbroken line\n");
    assertEquals(0, run("topology", "--root", root.toString()));
    List<String> lines = out.toString().lines().toList();
    assertEquals(List.of("Names (" + ids + "):", "  10de:2901  NVIDIA Corporation GB100 [B200]",
        "  8086:352a  Intel Corporation Test root port"),
        lines.subList(lines.size() - 3, lines.size()));
  }

  @Test
  void topology_json_namesEveryDevice() throws java.io.IOException {
    assertEquals(0, run("topology", "--root", root.toString(), "--json"));
    assertEquals("NVIDIA Corporation GB100 [B200]", new com.fasterxml.jackson.databind
        .ObjectMapper().readTree(out.toString()).path("names").path("10de:2901").asText());
  }

  @Test
  void topology_json_printsADocumentThatReadsBack() {
    assertEquals(0, run("topology", "--root", root.toString(), "--json"));
    assertEquals(17, TopologyJson.fromJson(out.toString())
        .require(PciAddress.parse("0000:15:00.0")).iommuGroup().getAsInt());
  }

  @Test
  void topology_rootThatIsNotSysfs_exitsTwoWithTheReasonAndNoStackTrace(@TempDir Path empty) {
    int exit = run("topology", "--root", empty.toString());
    assertEquals(List.of(2, true, false), List.of(exit,
        err.toString().startsWith("gpuvirt: host root " + empty + " is not a sysfs tree"),
        err.toString().contains("\tat ")), err.toString());
  }

  @Test
  void topology_missingRoot_exitsTwo() {
    assertEquals(2, run("topology", "--root", root.resolve("no-such-dir").toString()));
  }

  @Test
  void topology_corruptFile_exitsTwoNamingTheFile() throws IOException {
    Files.writeString(root.resolve("sys/devices/pci0000:14/0000:14:02.0/0000:15:00.0/vendor"),
        "nvidia\n");
    int exit = run("topology", "--root", root.toString());
    assertEquals(List.of(2, true), List.of(exit, err.toString()
        .contains("corrupt host file /sys/bus/pci/devices/0000:15:00.0/vendor: found 'nvidia\\n'")),
        err.toString());
  }

  @Test
  void topology_thisHost_scansSlashByDefault() {
    int exit = run("topology");
    assertTrue(exit == 0 && out.toString().contains(" PCI device"), out + "" + err);
  }

  @Test
  void topology_thisHost_printsNothingOnStderr() {
    run("topology");
    assertFalse(err.toString().contains("gpuvirt:"), err.toString());
  }
}
