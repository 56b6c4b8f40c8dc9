package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.examples.Tools;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** simulate, provision, qemu-args and teardown on a simulated GB200 NVL4 (aarch64) host. */
final class GraceCommandsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private Path root;

  @BeforeEach
  void simulate() throws IOException {
    root = TempRoots.create("gpuvirt-grace-");
    CliRun run = CliRun.of("simulate", "--profile", "gb200-nvl4", "--out",
        root.resolve("host").toString());
    assertEquals(0, run.exitCode(), run.toString());
    root = root.resolve("host");
  }

  @AfterEach
  void delete() throws IOException {
    TempRoots.delete(root.getParent());
  }

  private CliRun run(String... args) {
    return CliRun.withRoot(root, args);
  }

  private List<String> gpuDrivers() {
    try (SimulatedHost host = SimulatedHost.open(root)) {
      Topology t = TopologyScanner.scan(host.sysfs());
      return t.gpus().stream().map(g -> g.driver().orElse("-")).toList();
    }
  }

  private static List<String> argv(String json) throws IOException {
    List<String> out = new ArrayList<>();
    for (JsonNode a : JSON.readTree(json).path("argv")) {
      out.add(a.asText());
    }
    return out;
  }

  @Test
  void simulate_gb200_writesFourGpusOnNvidia() {
    assertEquals(List.of("nvidia", "nvidia", "nvidia", "nvidia"), gpuDrivers());
  }

  @Test
  void provision_twoGpus_bindsThemToTheGraceVariantDriverAndPrintsAnAarch64Argv() {
    CliRun p = run("provision", "--gpus", "2", "--owner", "vm-g", "--qemu-version", "10.1.0");
    assertEquals(0, p.exitCode(), p.toString());
    assertEquals(List.of(2L, true), List.of(gpuDrivers().stream()
        .filter("nvgrace_gpu_vfio_pci"::equals).count(), p.out().contains("qemu-system-aarch64")),
        p.out());
  }

  @Test
  void qemuArgs_onQemu92_startsWithTheAarch64BinaryAndCarriesTheGenericInitiators()
      throws IOException {
    assertEquals(0, run("provision", "--gpus", "1", "--owner", "vm-g", "--qemu-version",
        "10.1.0").exitCode());
    CliRun q = run("qemu-args", "--owner", "vm-g", "--qemu-version", "9.2.0", "--format",
        "json");
    assertEquals(0, q.exitCode(), q.toString());
    List<String> argv = argv(q.out());
    assertEquals(List.of("qemu-system-aarch64", "-machine", "virt,gic-version=3,highmem=on", 8L),
        List.of(argv.get(0), argv.get(1), argv.get(2), argv.stream()
            .filter(a -> a.startsWith("acpi-generic-initiator,")).count()), q.out());
  }

  @Test
  void qemuArgs_probingDebiansQemuSystemAarch64_givesThePlainLayout() throws IOException {
    Tools.require("qemu-system-aarch64");
    assertEquals(0, run("provision", "--gpus", "4", "--owner", "vm-g", "--qemu-version",
        "10.1.0").exitCode());
    CliRun q = run("qemu-args", "--owner", "vm-g", "--accel", "tcg", "--cpu-model", "max",
        "--format", "json");
    assertEquals(0, q.exitCode(), q.toString());
    List<String> argv = argv(q.out());
    assertEquals(List.of("qemu-system-aarch64", 4L, 0L, false), List.of(argv.get(0),
        argv.stream().filter(a -> a.startsWith("pxb-pcie,")).count(),
        argv.stream().filter(a -> a.startsWith("acpi-generic-initiator,")).count(),
        argv.contains("x-no-mmap=true")), q.out());
  }

  @Test
  void teardown_afterProvision_putsTheGpusBackOnNvidia() {
    assertEquals(0, run("provision", "--gpus", "4", "--owner", "vm-g", "--qemu-version",
        "10.1.0").exitCode());
    CliRun t = run("teardown", "--owner", "vm-g");
    assertEquals(0, t.exitCode(), t.toString());
    assertEquals(List.of("nvidia", "nvidia", "nvidia", "nvidia"), gpuDrivers());
  }

  @Test
  void doctor_onGb200_reportsTheSmmuAndTheVariantDriver() {
    CliRun d = run("doctor");
    assertTrue(d.out().contains("iommu.smmu") && d.out().contains("vfio.variant"), d.toString());
  }
}
