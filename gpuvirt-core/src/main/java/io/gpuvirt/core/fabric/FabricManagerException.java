package io.gpuvirt.core.fabric;

import io.gpuvirt.core.GpuvirtException;

/**
 * Fabric Manager refused or failed an operation. Carries the return code by name, so callers can
 * tell IN_USE from NOT_CONFIGURED from a timeout.
 */
public final class FabricManagerException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final FmReturnCode returnCode;
  private final String operation;

  public FabricManagerException(String operation, FmReturnCode returnCode, String message) {
    super(operation + " failed with " + returnCode + ": " + message);
    this.returnCode = returnCode;
    this.operation = operation;
  }

  public FabricManagerException(String operation, FmReturnCode returnCode, String message,
      Throwable cause) {
    super(operation + " failed with " + returnCode + ": " + message, cause);
    this.returnCode = returnCode;
    this.operation = operation;
  }

  /** The Fabric Manager return code. */
  public FmReturnCode returnCode() {
    return returnCode;
  }

  /** The operation that failed, for example {@code activate partition 4}. */
  public String operation() {
    return operation;
  }
}
