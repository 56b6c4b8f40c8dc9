package io.gpuvirt.core.mig;

import io.gpuvirt.core.GpuvirtException;

/**
 * No layout of the wanted GPU instances fits the GPU (beside the instances that exist). The message
 * names the GPU model, the profile that does not fit, its placement rule and the free memory
 * slices. Nothing was changed.
 */
public class MigPlanException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a message that says what does not fit and what is free. */
  public MigPlanException(String message) {
    super(message);
  }
}
