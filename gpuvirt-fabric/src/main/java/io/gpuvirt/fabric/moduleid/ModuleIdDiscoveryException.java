package io.gpuvirt.fabric.moduleid;

import io.gpuvirt.core.GpuvirtException;

/**
 * The GPU module-id map could not be discovered: the output of {@code nvidia-smi -q} or NVML lacks a
 * module id, repeats one, or the two sources disagree. The message names the GPU and the fix.
 */
public final class ModuleIdDiscoveryException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  public ModuleIdDiscoveryException(String message) {
    super(message);
  }

  public ModuleIdDiscoveryException(String message, Throwable cause) {
    super(message, cause);
  }
}
