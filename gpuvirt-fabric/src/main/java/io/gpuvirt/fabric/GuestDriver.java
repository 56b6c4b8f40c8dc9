package io.gpuvirt.fabric;

import io.gpuvirt.core.InvalidValueException;

/**
 * The NVIDIA driver a guest image carries, for the version rule of shared NVSwitch mode.
 *
 * @param version the driver version ({@code 580.95.05})
 * @param flavour open or proprietary kernel modules
 */
public record GuestDriver(String version, Flavour flavour) {
  /** Which kernel modules the driver uses. */
  public enum Flavour {
    /** The open kernel modules ({@code nvidia-open}); the only kind HGX B200 supports. */
    OPEN,
    /** The proprietary kernel modules. */
    PROPRIETARY
  }

  public GuestDriver {
    if (version == null || !version.strip().matches("\\d+(\\.\\d+){1,3}")) {
      throw new InvalidValueException("guest driver version '" + version
          + "' is not a version like 580.95.05");
    }
    if (flavour == null) {
      throw new InvalidValueException("guest driver flavour missing; OPEN or PROPRIETARY");
    }
    version = version.strip();
  }
}
