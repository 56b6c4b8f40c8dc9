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
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
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

  /** A simulated host's PCI tree under the test root (its Fabric Manager is the B200 one). */
  private void pciTree(HostProfile profile) {
    SimulatedHost.create(profile, root).close();
  }

  @Test
  void moduleIds_simulatedRoot_savesTheMapInTheStateDirectory() {
    pciTree(HostProfile.hgxB200());
    CliRun run = CliRun.of("module-ids", "--root", root.toString());
    assertEquals(b200(), new ModuleIdMapStore(root.resolve("var/lib/gpuvirt")).require(),
        run.toString());
  }

  @Test
  void moduleIds_simulatedRoot_printsModuleId1AtItsAddress() {
    pciTree(HostProfile.hgxB200());
    assertTrue(CliRun.of("module-ids", "--root", root.toString()).out().lines()
        .anyMatch(l -> l.matches("1\\s+0000:17:00\\.0")));
  }

  @Test
  void moduleIds_json_hasTheDriverVersion() {
    pciTree(HostProfile.hgxB200());
    assertTrue(CliRun.of("module-ids", "--root", root.toString(), "--json").out()
        .contains("\"driverVersion\" : \"580.95.05\""));
  }

  @Test
  void moduleIds_pciTreeWithTheSameGpus_exits0() throws IOException {
    pciTree(HostProfile.hgxB200());
    assertEquals(0, CliRun.of("module-ids", "--root", root.toString()).exitCode());
  }

  @Test
  void moduleIds_hgxH100InFullPassthrough_exits1SayingNoFabricManager() throws IOException {
    pciTree(HostProfile.hgxH100(false));
    CliRun run = CliRun.of("module-ids", "--root", root.toString());
    assertTrue(run.exitCode() == 1 && run.err().contains("no Fabric Manager on this host"),
        run.toString());
  }

  @Test
  void moduleIds_refused_savesNothing() throws IOException {
    pciTree(HostProfile.hgxH100(false));
    CliRun.of("module-ids", "--root", root.toString());
    assertTrue(new ModuleIdMapStore(root.resolve("var/lib/gpuvirt")).load().isEmpty());
  }

  @Test
  void moduleIds_rootThatIsNoSimulatedHost_runsTheRealNvidiaSmi() {
    CliRun run = CliRun.of("module-ids", "--root", root.toString(), "--nvidia-smi",
        root.resolve("no-such-nvidia-smi").toString());
    assertTrue(run.exitCode() == 2 && run.err().contains("no-such-nvidia-smi")
        && !root.resolve("var").toFile().exists(), run.toString());
  }

  @Test
  void moduleIds_nvidiaSmiMissing_exits2() {
    CliRun run = CliRun.of("module-ids", "--nvidia-smi", root.resolve("nvidia-smi").toString(),
        "--state-dir", root.resolve("state").toString());
    assertEquals(2, run.exitCode(), run.toString());
  }
}
