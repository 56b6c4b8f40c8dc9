package io.gpuvirt.core.host;

import io.gpuvirt.core.GpuvirtException;

/**
 * A read or write of a host file failed (missing file, permission, or an errno from the kernel such as
 * EBUSY or ENODEV). The path is the host path (for example {@code /sys/bus/pci/drivers_probe}); the
 * cause is the underlying {@link java.io.IOException}.
 */
public final class HostAccessException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final String path;

  public HostAccessException(String path, String message, Throwable cause) {
    super(message, cause);
    this.path = path;
  }

  /** The host path that could not be read or written. */
  public String path() {
    return path;
  }
}
