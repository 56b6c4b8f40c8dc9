package io.gpuvirt.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.fabric.FabricManagerProtocolException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

final class FabricReadinessTest {
  private static FabricFinding finding(List<FabricFinding> findings, String check) {
    return findings.stream().filter(f -> f.check().equals(check)).findFirst().orElseThrow();
  }

  private static FabricManagerConfig cfg(String text) {
    return FabricManagerConfig.parse(text, "/usr/share/nvidia/nvswitch/fabricmanager.cfg");
  }

  @Test
  void check_sharedMode_passes() {
    assertEquals(FabricFinding.Severity.OK,
        finding(FabricReadiness.check(cfg("FABRIC_MODE=1\n")), "fabric-mode").severity());
  }

  @Test
  void check_bareMetalMode_failsWithTheFix() {
    FabricFinding f = finding(FabricReadiness.check(cfg("FABRIC_MODE=0\n")), "fabric-mode");
    assertTrue(f.severity() == FabricFinding.Severity.FAIL
        && f.fix().orElseThrow().contains("FABRIC_MODE=1"), f.toString());
  }

  @Test
  void check_noApiAddress_fails() {
    assertEquals(FabricFinding.Severity.FAIL, finding(FabricReadiness.check(
        cfg("FABRIC_MODE=1\nFM_CMD_BIND_INTERFACE=\n")), "fabric-api").severity());
  }

  @Test
  void check_restartMode_warns() {
    assertEquals(FabricFinding.Severity.WARN, finding(FabricReadiness.check(
        cfg("FABRIC_MODE=1\nFABRIC_MODE_RESTART=1\n")), "fabric-restart-mode").severity());
  }

  @Test
  void check_unknownKey_warnsNamingIt() {
    FabricFinding f = finding(FabricReadiness.check(cfg("FABRIC_MODE=1\nFABRC_MODE=1\n")),
        "fabric-config-key");
    assertTrue(f.message().contains("FABRC_MODE"), f.message());
  }

  @Test
  void checkGuestDriver_sameVersion_passes() {
    assertEquals(FabricFinding.Severity.OK, finding(FabricReadiness.checkGuestDriver("580.95.05",
        new GuestDriver("580.95.05", GuestDriver.Flavour.OPEN), true), "driver-version")
        .severity());
  }

  @Test
  void checkGuestDriver_otherVersion_failsNamingBoth() {
    FabricFinding f = finding(FabricReadiness.checkGuestDriver("580.95.05",
        new GuestDriver("580.82.07", GuestDriver.Flavour.OPEN), true), "driver-version");
    assertTrue(f.severity() == FabricFinding.Severity.FAIL && f.message().contains("580.95.05")
        && f.message().contains("580.82.07"), f.toString());
  }

  @Test
  void checkGuestDriver_proprietaryOnB200_fails() {
    assertEquals(FabricFinding.Severity.FAIL, finding(FabricReadiness.checkGuestDriver(
        "580.95.05", new GuestDriver("580.95.05", GuestDriver.Flavour.PROPRIETARY), true),
        "driver-flavour").severity());
  }

  @Test
  void checkGuestDriver_proprietaryOnH100_passes() {
    assertEquals(FabricFinding.Severity.OK, finding(FabricReadiness.checkGuestDriver(
        "535.216.01", new GuestDriver("535.216.01", GuestDriver.Flavour.PROPRIETARY), false),
        "driver-flavour").severity());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "Fabric Manager version is : 580.95.05|580.95.05",
      "nv-fabricmanager version 570.133.20|570.133.20",
      "Copyright 2025 NVIDIA\\nFabric Manager Version: 535.216.01|535.216.01",
      "580.95.05|580.95.05"})
  void parseVersion_usualForms_found(String output, String version) {
    assertEquals(Optional.of(version), FabricReadiness.parseVersion(output.replace("\\n", "\n")));
  }

  @Test
  void hostFabricManagerVersion_noVersionPrinted_refused() {
    CommandRunner runner = c -> new CommandResult(c.argv(), 0, "hello\n", "",
        Duration.ofMillis(1), false);
    assertThrows(FabricManagerProtocolException.class,
        () -> FabricReadiness.hostFabricManagerVersion(runner, "nv-fabricmanager"));
  }

  @Test
  void hostFabricManagerVersion_printed_returnsIt() {
    CommandRunner runner = c -> new CommandResult(c.argv(), 0,
        "Fabric Manager version is : 580.95.05\n", "", Duration.ofMillis(1), false);
    assertEquals("580.95.05",
        FabricReadiness.hostFabricManagerVersion(runner, "nv-fabricmanager"));
  }

  @Test
  void check_restartModeWithoutAStateFile_failsNamingTheKey() {
    FabricFinding f = finding(FabricReadiness.check(cfg("FABRIC_MODE=1\nFABRIC_MODE_RESTART=1\n")),
        "fabric-state-file");
    assertTrue(f.severity() == FabricFinding.Severity.FAIL
        && f.fix().orElseThrow().contains("STATE_FILE_NAME"), f.toString());
  }

  @Test
  void check_restartModeWithAStateFile_saysWhereTheStateIs() {
    FabricFinding f = finding(FabricReadiness.check(cfg("FABRIC_MODE=1\nFABRIC_MODE_RESTART=1\n"
        + "STATE_FILE_NAME=/var/tmp/fabricmanager.state\n")), "fabric-state-file");
    assertTrue(f.severity() == FabricFinding.Severity.OK
        && f.message().contains("/var/tmp/fabricmanager.state"), f.toString());
  }
}
