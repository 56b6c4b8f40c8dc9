package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.GpuvirtException;

/**
 * A vGPU step on the host failed or was refused: enabling VFs, a VF without its {@code nvidia/}
 * directory, a type that cannot be created (the GPU is full), a sysfs write the driver rejected.
 * The message names the device, the step and the fix.
 */
public class VgpuException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception naming the device, the step and the fix. */
  public VgpuException(String message) {
    super(message);
  }

  /** Creates an exception that keeps the host error underneath. */
  public VgpuException(String message, Throwable cause) {
    super(message, cause);
  }
}
