package io.gpuvirt.core.fabric;

import io.gpuvirt.core.GpuvirtException;

/**
 * Fabric Manager, or the program or library that speaks to it, answered something gpuvirt cannot
 * read: output that is not the expected JSON, a return code or exit status no header defines, a
 * library that cannot be loaded. Unlike {@link FabricManagerException} this is not a refusal by
 * Fabric Manager, so retrying the same call does not help; the message names the fix.
 */
public final class FabricManagerProtocolException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final String operation;

  public FabricManagerProtocolException(String operation, String message) {
    super(operation + ": " + message);
    this.operation = operation;
  }

  public FabricManagerProtocolException(String operation, String message, Throwable cause) {
    super(operation + ": " + message, cause);
    this.operation = operation;
  }

  /** The operation that was under way, for example {@code list partitions}. */
  public String operation() {
    return operation;
  }
}
