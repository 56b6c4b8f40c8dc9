package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gpuvirt doctor} on simulated hosts: exit codes, fixes, JSON, Fabric Manager checks. */
final class DoctorCommandTest {
  private static final String[] B200_GPUS = {"0000:17:00.0", "0000:3d:00.0", "0000:60:00.0",
      "0000:70:00.0", "0000:98:00.0", "0000:bb:00.0", "0000:dd:00.0", "0000:ed:00.0"};

  private static CliRun doctor(SimulatedHost host, String... args) {
    List<String> all = new ArrayList<>(List.of("doctor", "--root", host.root().toString()));
    all.addAll(List.of(args));
    return CliRun.of(all.toArray(String[]::new));
  }

  private static void bindAllGpus(SimulatedHost host, Path state) {
    List<String> args = new ArrayList<>(List.of("bind"));
    args.addAll(List.of(B200_GPUS));
    args.addAll(List.of("--root", host.root().toString(), "--state", state.toString()));
    assertEquals(0, CliRun.of(args.toArray(String[]::new)).exitCode());
  }

  private static JsonNode finding(JsonNode report, String check) {
    for (JsonNode f : report.get("findings")) {
      if (f.get("check").asText().equals(check)) {
        return f;
      }
    }
    throw new AssertionError("no finding " + check + " in " + report.toPrettyString());
  }

  @Test
  void doctor_iommuOff_exitsOne() {
    try (SimulatedHost host = SimulatedHost.iommuOff()) {
      assertEquals(1, doctor(host).exitCode());
    }
  }

  @Test
  void doctor_iommuOff_printsTheGrubFix() {
    try (SimulatedHost host = SimulatedHost.iommuOff()) {
      CliRun r = doctor(host);

      assertTrue(r.out().contains("the IOMMU is off")
          && r.out().contains("in /etc/default/grub:")
          && r.out().contains("GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on iommu=pt"
              + " vfio-pci.ids=10de:2331\"")
          && r.out().contains("update-grub"), r.out());
    }
  }

  @Test
  void doctor_b200StaticVfio_exitsOneWhileTheGpusAreOnNvidia() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      assertEquals(1, doctor(host, "--policy", "static-vfio").exitCode());
    }
  }

  @Test
  void doctor_b200StaticVfio_exitsZeroOnceBound(@TempDir Path state) {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      bindAllGpus(host, state);

      CliRun r = doctor(host, "--policy", "static-vfio");

      assertEquals(0, r.exitCode(), r.out());
    }
  }

  @Test
  void doctor_b200_reportsReadyOnceBound(@TempDir Path state) {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      bindAllGpus(host, state);

      CliRun r = doctor(host);

      assertEquals(0, r.exitCode(), r.out());
      assertTrue(r.out().contains(": READY"), r.out());
    }
  }

  @Test
  void doctor_json_parsesWithReadyAndFindings() throws IOException {
    try (SimulatedHost host = SimulatedHost.iommuOff()) {
      JsonNode report = new ObjectMapper().readTree(doctor(host, "--json").out());

      assertEquals(List.of(false, "ERROR", "/etc/default/grub"), List.of(
          report.get("ready").asBoolean(), finding(report, "iommu.enabled").get("severity").asText(),
          finding(report, "iommu.enabled").at("/fix/file").asText()));
    }
  }

  @Test
  void doctor_b200Auto_choosesRebindPerVmFromFabricManagerConfig() throws IOException {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      JsonNode report = new ObjectMapper().readTree(doctor(host, "--json").out());

      assertEquals("INFO", finding(report, "gpu.driver").get("severity").asText());
    }
  }

  @Test
  void doctor_b200_includesFabricManagerFindings() throws IOException {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      JsonNode report = new ObjectMapper().readTree(doctor(host, "--json").out());

      assertEquals(List.of("OK", "OK"), List.of(
          finding(report, "fabric-mode").get("severity").asText(),
          finding(report, "fabric-api").get("severity").asText()));
    }
  }

  @Test
  void doctor_fabricModeZero_reportsTheModeAsInfoAndChoosesStaticVfio() throws IOException {
    try (SimulatedHost host = SimulatedHost.hgxH100()) {
      JsonNode report = new ObjectMapper().readTree(doctor(host, "--json").out());

      assertEquals(List.of("INFO", "ERROR"), List.of(
          finding(report, "fabric-mode").get("severity").asText(),
          finding(report, "gpu.driver").get("severity").asText()));
    }
  }

  @Test
  void doctor_fabricManagerConfigWithABadLine_isAnErrorNamingTheLine() throws IOException {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200())) {
      Path cfg = host.root().resolve(HostMode.FABRIC_MANAGER_CFG.substring(1));
      Files.writeString(cfg, "FABRIC_MODE=1\nthis is not a setting\n");

      CliRun r = doctor(host);

      assertEquals(1, r.exitCode());
      assertTrue(r.out().contains("fabric.config") && r.out().contains("line 2"), r.out());
    }
  }

  @Test
  void doctor_sharedModeWithoutApiAddress_isNotReady() throws IOException {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      Path cfg = host.root().resolve(HostMode.FABRIC_MANAGER_CFG.substring(1));
      Files.writeString(cfg, "FABRIC_MODE=1\nFM_CMD_BIND_INTERFACE=\n");

      CliRun r = doctor(host);

      assertEquals(1, r.exitCode());
      assertTrue(r.out().contains("fabric-api"), r.out());
    }
  }

  @Test
  void doctor_badPolicy_exitsTwo() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      assertEquals(2, doctor(host, "--policy", "sometimes").exitCode());
    }
  }

  @Test
  void doctor_rootThatIsNotASysfsTree_exitsTwo(@TempDir Path dir) {
    CliRun r = CliRun.of("doctor", "--root", dir.toString());

    assertEquals(2, r.exitCode());
    assertTrue(r.err().contains("not a sysfs tree"), r.err());
  }
}
