package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The CLI over the library's host facade: each simulated host with its own Fabric Manager. */
final class FacadeCommandsTest {
  @TempDir Path root;

  private void simulate(String profile) {
    SimulatedHost.create(HostProfile.preset(profile), root).close();
  }

  private static List<String> ids(String table) {
    return table.lines().skip(1).map(l -> l.split("\\s+")[0]).toList();
  }

  @Test
  void partitionsList_hgxB200_listsTheB200Table() {
    simulate("hgx-b200");
    CliRun run = CliRun.of("partitions", "list", "--root", root.toString());
    assertEquals(List.of("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
        "14", "15"), ids(run.out()), run.toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"hgx-h100", "workstation", "no-acs", "iommu-off"})
  void partitionsList_hostWithoutSharedNvSwitch_saysNoFabricManagerAndExits1(String profile) {
    simulate(profile);
    CliRun run = CliRun.of("partitions", "list", "--root", root.toString());
    assertTrue(run.exitCode() == 1 && run.err().contains("no Fabric Manager on this host")
        && run.out().isEmpty(), run.toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"hgx-h100", "workstation", "no-acs", "iommu-off"})
  void moduleIds_hostWithoutSharedNvSwitch_saysNoFabricManagerAndExits1(String profile) {
    simulate(profile);
    CliRun run = CliRun.of("module-ids", "--root", root.toString());
    assertTrue(run.exitCode() == 1 && run.err().contains("no Fabric Manager on this host"),
        run.toString());
  }

  @Test
  void provision_unknownDeviceId_saysNoDeviceMatches() {
    simulate("hgx-b200");
    CliRun run = CliRun.of("provision", "--gpus", "1", "--owner", "vm-1", "--device",
        "10de:9999", "--root", root.toString(), "--qemu-version", "10.1.0");
    assertTrue(run.exitCode() == 1 && run.err().contains("no device matches 10de:9999"),
        run.toString());
  }

  @Test
  void provision_oneGpuOnB200_saysOneFreePartitionInTheSingular() {
    simulate("hgx-b200");
    CliRun run = CliRun.of("provision", "--gpus", "8", "--owner", "vm-1", "--root",
        root.toString(), "--qemu-version", "10.1.0");
    assertTrue(run.exitCode() == 0 && run.out().contains("best fit among 1 free partition of 8"
        + " GPUs"), run.toString());
  }

  @Test
  void provision_noAcsHostWithAllow_provisionsTheGroupWithItsForeignDevice() {
    simulate("no-acs");
    CliRun refused = CliRun.of("provision", "--gpus", "1", "--owner", "vm-1", "--root",
        root.toString(), "--qemu-version", "10.1.0");
    String foreign = refused.err().replaceAll("(?s).*?(0000:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7])"
        + "[^\\n]*foreign.*", "$1");
    assertEquals(1, refused.exitCode(), refused.toString());
    CliRun run = CliRun.of("provision", "--gpus", "1", "--owner", "vm-1", "--root",
        root.toString(), "--qemu-version", "10.1.0", "--allow", foreign);
    assertEquals(0, run.exitCode(), refused + "\n" + run);
  }
}
