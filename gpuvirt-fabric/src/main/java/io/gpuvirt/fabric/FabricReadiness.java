package io.gpuvirt.fabric;

import io.gpuvirt.core.fabric.FabricManagerProtocolException;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Readiness checks for partitioned GPU passthrough (shared NVSwitch multitenancy): the Fabric
 * Manager configuration, and the rule that the guest's NVIDIA driver matches the host's Fabric
 * Manager exactly (with the open kernel modules on HGX B200).
 */
public final class FabricReadiness {
  private static final Pattern VERSION = Pattern.compile("(\\d+\\.\\d+(?:\\.\\d+){0,2})");

  private FabricReadiness() {}

  /** Checks a {@code fabricmanager.cfg}: the mode, the API address, restart mode, unknown keys. */
  public static List<FabricFinding> check(FabricManagerConfig cfg) {
    List<FabricFinding> findings = new ArrayList<>();
    if (cfg.sharedNvswitchMode()) {
      findings.add(FabricFinding.ok("fabric-mode", "FABRIC_MODE=1 (shared NVSwitch "
          + "multitenancy) in " + cfg.source()));
    } else {
      String mode = switch (cfg.fabricMode()) {
        case 0 -> "0 (bare metal / full passthrough: all GPUs and NVSwitches go to one VM)";
        case 2 -> "2 (vGPU multitenancy)";
        default -> Integer.toString(cfg.fabricMode());
      };
      findings.add(FabricFinding.fail("fabric-mode", "FABRIC_MODE is " + mode + " in "
          + cfg.source() + "; Fabric Manager refuses partition calls with NOT_SUPPORTED",
          "set FABRIC_MODE=1 in " + cfg.source()
              + " and restart nvidia-fabricmanager (systemctl restart nvidia-fabricmanager)"));
    }
    Optional<FmAddress> api = cfg.commandAddress();
    if (api.isPresent()) {
      findings.add(FabricFinding.ok("fabric-api", "the Fabric Manager API listens on "
          + api.get()));
    } else {
      findings.add(FabricFinding.fail("fabric-api", "FM_CMD_BIND_INTERFACE and "
          + "FM_CMD_UNIX_SOCKET_PATH are both empty in " + cfg.source()
          + ": no client can reach Fabric Manager", "set FM_CMD_BIND_INTERFACE=127.0.0.1 (or a "
          + "socket path in FM_CMD_UNIX_SOCKET_PATH) and restart nvidia-fabricmanager"));
    }
    if (cfg.restartMode()) {
      findings.add(FabricFinding.warn("fabric-restart-mode", "FABRIC_MODE_RESTART=1: after each "
          + "start Fabric Manager refuses every call until it is told the active partitions, and "
          + "exits if not told in time", "make sure reconcile runs right after "
          + "nvidia-fabricmanager starts (FabricManager.setActivatedPartitions)"));
      if (cfg.stateFileName().isEmpty()) {
        findings.add(FabricFinding.fail("fabric-state-file", "FABRIC_MODE_RESTART=1 but "
            + cfg.source() + " sets no STATE_FILE_NAME: a restart has no state to resume from",
            "set STATE_FILE_NAME (e.g. /var/tmp/fabricmanager.state) in " + cfg.source()
            + " and restart nvidia-fabricmanager"));
      } else {
        findings.add(FabricFinding.ok("fabric-state-file", "Fabric Manager keeps its restart"
            + " state in " + cfg.stateFileName().get() + " (STATE_FILE_NAME in " + cfg.source()
            + ")"));
      }
    }
    for (String key : cfg.unknownKeys()) {
      findings.add(FabricFinding.warn("fabric-config-key", "unknown key " + key + " in "
          + cfg.source() + " (a typo, or a key of a newer release)", "check the spelling of "
          + key + " against the Fabric Manager User Guide"));
    }
    return List.copyOf(findings);
  }

  /**
   * Checks the driver rule of shared NVSwitch mode: the guest driver version must equal the host's
   * Fabric Manager version exactly (a mismatch shows as CUDA init failures or missing NVLink in the
   * guest), and on HGX B200 the guest must use the open kernel modules.
   *
   * @param hostFabricManagerVersion the host's Fabric Manager version ({@code 580.95.05})
   * @param guest the guest image's driver
   * @param openModulesRequired true on platforms that support only the open modules (HGX B200)
   */
  public static List<FabricFinding> checkGuestDriver(String hostFabricManagerVersion,
      GuestDriver guest, boolean openModulesRequired) {
    List<FabricFinding> findings = new ArrayList<>();
    String host = hostFabricManagerVersion.strip();
    if (host.equals(guest.version())) {
      findings.add(FabricFinding.ok("driver-version", "guest driver " + guest.version()
          + " matches host Fabric Manager " + host));
    } else {
      findings.add(FabricFinding.fail("driver-version", "guest driver " + guest.version()
          + " does not match host Fabric Manager " + host + "; in shared NVSwitch mode they must "
          + "be the same version", "install NVIDIA driver " + host + " in the guest image, or "
          + "nvidia-fabricmanager " + guest.version() + " on the host"));
    }
    if (openModulesRequired && guest.flavour() != GuestDriver.Flavour.OPEN) {
      findings.add(FabricFinding.fail("driver-flavour", "the guest uses the proprietary kernel "
          + "modules; this platform supports only the open ones", "install nvidia-open-"
          + guest.version().split("\\.")[0] + " (the open kernel modules) in the guest image"));
    } else {
      findings.add(FabricFinding.ok("driver-flavour", "guest kernel modules: "
          + guest.flavour().name().toLowerCase(Locale.ROOT)));
    }
    return List.copyOf(findings);
  }

  /**
   * Asks the host's Fabric Manager for its version ({@code nv-fabricmanager --version}).
   *
   * @param program the {@code nv-fabricmanager} program
   * @throws FabricManagerProtocolException when it fails or prints no version
   */
  public static String hostFabricManagerVersion(CommandRunner runner, String program) {
    String op = "read the Fabric Manager version";
    CommandResult r = runner.run(Command.of(program, "--version")
        .withTimeout(Duration.ofSeconds(30)));
    if (r.exitCode() != 0) {
      throw new FabricManagerProtocolException(op, program + " --version exited with "
          + r.exitCode() + ": " + (r.stdout() + r.stderr()).strip()
          + "; check that nvidia-fabricmanager is installed");
    }
    return parseVersion(r.stdout() + "\n" + r.stderr()).orElseThrow(() ->
        new FabricManagerProtocolException(op, program + " --version printed no version: '"
            + r.stdout().strip() + "'"));
  }

  /**
   * The version in a program's version output: the first {@code N.N[.N]} on a line that mentions
   * "version", else the first anywhere. (The exact output of {@code nv-fabricmanager --version} is
   * not documented; this accepts any of the usual forms.)
   */
  static Optional<String> parseVersion(String output) {
    for (String line : output.split("\n")) {
      if (line.toLowerCase(Locale.ROOT).contains("version")) {
        Matcher m = VERSION.matcher(line);
        if (m.find()) {
          return Optional.of(m.group(1));
        }
      }
    }
    Matcher m = VERSION.matcher(output);
    return m.find() ? Optional.of(m.group(1)) : Optional.empty();
  }
}
