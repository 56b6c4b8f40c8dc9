package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.ModuleIdMapStore;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.fabric.SimulatedGpu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class ModuleIdsCommandTest {
  @TempDir Path root;

  private static ModuleIdMap b200() {
    Map<Integer, PciAddress> m = new TreeMap<>();
    SimulatedGpu.hgxB200().forEach(g -> m.put(g.moduleId(), g.address()));
    return new ModuleIdMap(m);
  }

  /** A minimal PCI tree: vendor and class of each device. */
  private void pciTree(List<PciAddress> gpus) throws IOException {
    for (PciAddress a : gpus) {
      Path d = root.resolve("sys/bus/pci/devices").resolve(a.toString());
      Files.createDirectories(d);
      Files.writeString(d.resolve("vendor"), "0x10de\n");
      Files.writeString(d.resolve("class"), "0x030200\n");
    }
    Path nic = root.resolve("sys/bus/pci/devices/0000:18:00.0");
    Files.createDirectories(nic);
    Files.writeString(nic.resolve("vendor"), "0x15b3\n");
    Files.writeString(nic.resolve("class"), "0x020000\n");
  }

  @Test
  void moduleIds_simulatedRoot_savesTheMapInTheStateDirectory() {
    CliRun run = CliRun.of("module-ids", "--root", root.toString());
    assertEquals(b200(), new ModuleIdMapStore(root.resolve("var/lib/gpuvirt")).require(),
        run.toString());
  }

  @Test
  void moduleIds_simulatedRoot_printsModuleId1AtItsAddress() {
    assertTrue(CliRun.of("module-ids", "--root", root.toString()).out().lines()
        .anyMatch(l -> l.matches("1\\s+0000:60:00\\.0")));
  }

  @Test
  void moduleIds_json_hasTheDriverVersion() {
    assertTrue(CliRun.of("module-ids", "--root", root.toString(), "--json").out()
        .contains("\"driverVersion\" : \"580.95.05\""));
  }

  @Test
  void moduleIds_pciTreeWithTheSameGpus_exits0() throws IOException {
    pciTree(List.copyOf(b200().addresses()));
    assertEquals(0, CliRun.of("module-ids", "--root", root.toString()).exitCode());
  }

  @Test
  void moduleIds_pciTreeWithAnotherGpu_exits1NamingIt() throws IOException {
    List<PciAddress> gpus = new java.util.ArrayList<>(b200().addresses());
    gpus.add(PciAddress.parse("0000:f1:00.0"));
    pciTree(gpus);
    CliRun run = CliRun.of("module-ids", "--root", root.toString());
    assertTrue(run.exitCode() == 1 && run.err().contains("0000:f1:00.0"), run.toString());
  }

  @Test
  void moduleIds_refused_savesNothing() throws IOException {
    pciTree(List.of(PciAddress.parse("0000:17:00.0")));
    CliRun.of("module-ids", "--root", root.toString());
    assertTrue(new ModuleIdMapStore(root.resolve("var/lib/gpuvirt")).load().isEmpty());
  }

  @Test
  void moduleIds_nvidiaSmiMissing_exits2() {
    CliRun run = CliRun.of("module-ids", "--nvidia-smi", root.resolve("nvidia-smi").toString(),
        "--state-dir", root.resolve("state").toString());
    assertEquals(2, run.exitCode(), run.toString());
  }
}
