package io.gpuvirt.core.mig;

import io.gpuvirt.core.GpuvirtException;

/**
 * A MIG operation failed in the driver or its tool: the message names the GPU, the operation, the
 * driver's answer and the fix. The operation changed nothing on the GPU.
 */
public class MigBackendException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  public MigBackendException(String message) {
    super(message);
  }

  public MigBackendException(String message, Throwable cause) {
    super(message, cause);
  }
}
