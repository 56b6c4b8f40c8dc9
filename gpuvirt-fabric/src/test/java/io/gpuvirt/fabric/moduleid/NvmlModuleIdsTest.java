package io.gpuvirt.fabric.moduleid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.fabric.ExternalTools;
import io.gpuvirt.testkit.fabric.FakeNvidiaSmi;
import io.gpuvirt.testkit.fabric.NvidiaSmiFormat;
import io.gpuvirt.testkit.fabric.SimulatedGpu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NVML over JNA against a small fake libnvidia-ml built with gcc from src/test/c/fake-nvml.c. */
final class NvmlModuleIdsTest {
  @TempDir Path dir;

  /** Builds a fake NVML for {@code gpus} into a directory of its own. */
  private Path fakeNvml(List<SimulatedGpu> gpus, boolean withModuleId) throws IOException {
    ExternalTools.require("gcc");
    Files.writeString(dir.resolve("fake-nvml-gpus.h"), (withModuleId ? ""
        : "#define FAKE_NO_MODULE_ID\n") + "static const struct fake_gpu FAKE_GPUS[] = {"
        + gpus.stream().map(g -> String.format("{0x%x, 0x%x, 0x%x, %d, %d}",
            g.address().domain(), g.address().bus(), g.address().device(),
            g.address().function(), g.moduleId())).collect(Collectors.joining(", ")) + "};\n");
    Path lib = dir.resolve("libnvidia-ml.so.1");
    CommandResult r = CommandRunner.system().run(Command.of("gcc", "-std=c11", "-Wall", "-Werror",
        "-fPIC", "-shared", "-fvisibility=hidden", "-I", dir.toString(), "-o", lib.toString(),
        Path.of("src/test/c/fake-nvml.c").toAbsolutePath().toString()));
    assertEquals(0, r.exitCode(), r.stderr());
    return lib;
  }

  @Test
  void fromNvml_hgxB200_readsTheModuleIdMap() throws IOException {
    assertEquals(ModuleIdDiscoveryTest.B200,
        ModuleIdDiscovery.fromNvml(fakeNvml(SimulatedGpu.hgxB200(), true).toString()));
  }

  @Test
  void crossCheck_nvmlAndNvidiaSmi_agreeOnTheSameBoard() throws IOException {
    String smi = new FakeNvidiaSmi(SimulatedGpu::hgxB200, "580.95.05",
        NvidiaSmiFormat.PLATFORM_INFO).report();
    assertEquals(ModuleIdDiscoveryTest.B200, ModuleIdDiscovery.crossCheck(
        ModuleIdDiscovery.parseNvidiaSmi(smi, "nvidia-smi -q").moduleIds(), "nvidia-smi -q",
        ModuleIdDiscovery.fromNvml(fakeNvml(SimulatedGpu.hgxB200(), true).toString()), "NVML"));
  }

  @Test
  void fromNvml_driverWithoutGetModuleId_namesTheDriverBranch() throws IOException {
    String lib = fakeNvml(SimulatedGpu.hgxB200(), false).toString();
    ModuleIdDiscoveryException e = assertThrows(ModuleIdDiscoveryException.class,
        () -> ModuleIdDiscovery.fromNvml(lib));
    assertTrue(e.getMessage().contains("r535"), e.getMessage());
  }

  @Test
  void fromNvml_duplicateModuleIds_refused() throws IOException {
    List<SimulatedGpu> board = SimulatedGpu.hgxB200();
    List<SimulatedGpu> twice = List.of(board.get(0), new SimulatedGpu(board.get(0).moduleId(),
        board.get(1).address(), board.get(1).uuid(), "NVIDIA B200", 0x2901));
    String lib = fakeNvml(twice, true).toString();
    assertThrows(ModuleIdDiscoveryException.class, () -> ModuleIdDiscovery.fromNvml(lib));
  }

  @Test
  void fromNvml_missingLibrary_refused() {
    assertThrows(ModuleIdDiscoveryException.class,
        () -> ModuleIdDiscovery.fromNvml(dir.resolve("libnvidia-ml.so.1").toString()));
  }
}
