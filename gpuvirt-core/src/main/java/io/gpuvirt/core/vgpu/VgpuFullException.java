package io.gpuvirt.core.vgpu;

/**
 * The requested vGPU type cannot be created on this VF now: the GPU is full (its VFs'
 * {@code creatable_vgpu_types} is header-only) or it already carries another type (homogeneous
 * mode). Nothing was changed.
 */
public final class VgpuFullException extends VgpuException {
  private static final long serialVersionUID = 1L;

  /** Creates the refusal; the message names the GPU, the type and what is creatable instead. */
  public VgpuFullException(String message) {
    super(message);
  }
}
