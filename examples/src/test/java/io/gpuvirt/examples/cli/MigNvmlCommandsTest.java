package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.examples.Tools;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.SimulatedNvml;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gpuvirt mig --backend nvml} on a simulated HGX B200 whose tree holds the testkit's
 * gcc-built libnvidia-ml: what NVML configures is what the nvidia-smi backend then reports.
 */
final class MigNvmlCommandsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CONFIG = "version: v1\n"
      + "mig-configs:\n"
      + "  all-balanced:\n"
      + "    - devices: all\n"
      + "      mig-enabled: true\n"
      + "      mig-devices:\n"
      + "        \"1g.23gb\": 2\n"
      + "        \"2g.45gb\": 1\n"
      + "        \"3g.90gb\": 1\n";

  @TempDir Path dir;
  private Path root;
  private Path file;

  @BeforeEach
  void hostWithNvml() throws IOException {
    Tools.require("gcc");
    root = dir.resolve("hgx");
    Path built = SimulatedNvml.build(CommandRunner.system(), Path.of("target", "nvml-sim"));
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200(), root)) {
      SimulatedNvml.install(host, built);
    }
    file = dir.resolve("config.yaml");
    Files.writeString(file, CONFIG);
  }

  private CliRun run(String... args) {
    return CliRun.withRoot(root, args);
  }

  @Test
  void apply_throughNvml_isWhatTheNvidiaSmiBackendThenReports() throws IOException {
    CliRun apply = run("mig", "apply", "--backend", "nvml", "-f", file.toString(), "-c",
        "all-balanced");
    CliRun assertViaSmi = run("mig", "assert", "-f", file.toString(), "-c", "all-balanced");
    JsonNode viaSmi = JSON.readTree(run("mig", "status", "--json").out());
    JsonNode viaNvml = JSON.readTree(run("mig", "status", "--backend", "nvml", "--json").out());

    assertEquals(0, apply.exitCode(), apply.toString());
    assertEquals(0, assertViaSmi.exitCode(), assertViaSmi.toString());
    assertEquals(4, viaSmi.get(0).get("gpuInstances").size(), viaSmi.toPrettyString());
    assertEquals(viaSmi, viaNvml);
  }

  @Test
  void status_nvmlLibraryMissing_isAnErrorNamingThePath() throws IOException {
    String missing = dir.resolve("no-such/libnvidia-ml.so.1").toString();

    CliRun r = run("mig", "status", "--backend", "nvml", "--nvml-library", missing, "--json");

    assertEquals(2, r.exitCode(), r.toString());
    assertTrue(JSON.readTree(r.out()).get("error").get("message").asText().contains(missing),
        r.out());
  }

  @Test
  void status_unknownBackend_namesTheChoices() throws IOException {
    CliRun r = run("mig", "status", "--backend", "dcgm", "--json");

    assertEquals(2, r.exitCode(), r.toString());
    JsonNode error = JSON.readTree(r.out()).get("error");
    assertEquals("invalid-value", error.get("kind").asText());
    assertTrue(error.get("message").asText().contains("nvidia-smi, nvml"), r.out());
  }
}
