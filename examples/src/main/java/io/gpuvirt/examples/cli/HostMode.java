package io.gpuvirt.examples.cli;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.fabric.FabricManagerConfig;
import java.util.Optional;

/** How the CLI decides what kind of host it is looking at. */
final class HostMode {
  static final String FABRIC_MANAGER_CFG = FabricManagerConfig.DEFAULT_PATH;

  private HostMode() {}

  /**
   * The host's {@code fabricmanager.cfg}, read with the fabric module's parser; empty when the
   * host has none (no Fabric Manager installed).
   *
   * @throws io.gpuvirt.fabric.FabricConfigException naming the line when the file is malformed
   */
  static Optional<FabricManagerConfig> fabricManagerConfig(Sysfs sysfs) {
    if (!sysfs.exists(FABRIC_MANAGER_CFG)) {
      return Optional.empty();
    }
    return Optional.of(FabricManagerConfig.read(sysfs, FABRIC_MANAGER_CFG));
  }

  /** Whether Fabric Manager is configured for shared NVSwitch multitenancy (FABRIC_MODE=1). */
  static boolean sharedNvSwitch(Sysfs sysfs) {
    return fabricManagerConfig(sysfs).map(FabricManagerConfig::sharedNvswitchMode).orElse(false);
  }
}
