package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.GpuvirtException;

/**
 * A mig-parted apply failed part-way ({@link MigConfigurator#apply}): the message names the GPU,
 * the step and the driver's answer, and says either that every GPU the apply changed was put back
 * as it was, or what each GPU is left as and how to finish.
 */
public final class MigApplyException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  public MigApplyException(String message) {
    super(message);
  }

  public MigApplyException(String message, Throwable cause) {
    super(message, cause);
  }
}
