package io.gpuvirt.core.vgpu;

/**
 * How a physical GPU on the vendor-specific path places vGPUs of different types (reference
 * NEXT.md §2, "Heterogeneous sizes on one PF").
 */
public enum VgpuMode {
  /** One type at a time (the driver's default; {@code sriov-manage -e} resets to it). */
  HOMOGENEOUS,
  /**
   * Types of different framebuffer sizes side by side, set with {@code nvidia-smi vgpu -shm 1
   * -i <gpu>} after the VFs are enabled and before the first type, on cards that support it.
   */
  HETEROGENEOUS
}
