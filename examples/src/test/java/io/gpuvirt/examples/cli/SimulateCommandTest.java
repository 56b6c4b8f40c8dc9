package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code gpuvirt simulate} writes a host root that stays and can be reopened. */
final class SimulateCommandTest {

  @ParameterizedTest
  @ValueSource(strings = {"hgx-b200", "hgx-h100", "workstation", "no-acs", "iommu-off"})
  void simulate_writesTheProfileAndExitsZero(String profile, @TempDir Path dir) {
    Path out = dir.resolve("host");
    int code = GpuvirtCli.run("simulate", "--profile", profile, "--out", out.toString());
    try (SimulatedHost host = SimulatedHost.open(out)) {
      assertEquals(List.of(0, profile), List.of(code, host.profile().name()));
    }
  }

  @Test
  void simulate_hgxB200_keepsTheGpuTree(@TempDir Path dir) {
    GpuvirtCli.run("simulate", "--profile", "hgx-b200", "--out", dir.toString());
    assertTrue(Files.isDirectory(dir.resolve("sys/devices/pci0000:14/0000:14:02.0/0000:15:00.0/"
        + "0000:16:00.0/0000:17:00.0")));
  }

  @Test
  void simulate_unknownProfile_exitsTwo(@TempDir Path dir) {
    assertEquals(Cli.ERROR, GpuvirtCli.run("simulate", "--profile", "dgx-a100", "--out",
        dir.resolve("host").toString()));
  }

  @Test
  void simulate_intoANonEmptyDirectory_exitsTwoAndLeavesItAlone(@TempDir Path dir)
      throws IOException {
    Files.writeString(dir.resolve("notes.txt"), "mine");
    int code = GpuvirtCli.run("simulate", "--profile", "workstation", "--out", dir.toString());
    assertEquals(List.of(Cli.ERROR, List.of(dir.resolve("notes.txt"))),
        List.of(code, Files.list(dir).toList()));
  }
}
