package io.gpuvirt.examples.cli;

import io.gpuvirt.core.host.Sysfs;

/** How the CLI decides what kind of host it is looking at. */
final class HostMode {
  static final String FABRIC_MANAGER_CFG = "/usr/share/nvidia/nvswitch/fabricmanager.cfg";

  private HostMode() {}

  /** Whether Fabric Manager is configured for shared NVSwitch multitenancy (FABRIC_MODE=1). */
  static boolean sharedNvSwitch(Sysfs sysfs) {
    if (!sysfs.exists(FABRIC_MANAGER_CFG)) {
      return false;
    }
    return sysfs.read(FABRIC_MANAGER_CFG).lines().map(String::strip)
        .anyMatch(l -> l.replace(" ", "").equals("FABRIC_MODE=1"));
  }
}
