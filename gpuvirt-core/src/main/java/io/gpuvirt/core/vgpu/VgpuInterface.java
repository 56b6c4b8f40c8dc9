package io.gpuvirt.core.vgpu;

/** How a physical GPU offers vGPUs (reference VGPU_MIG.md §2). */
public enum VgpuInterface {
  /**
   * NVIDIA's vendor-specific interface (vGPU 17+, kernel 6.8+): SR-IOV VFs, each with
   * {@code /sys/bus/pci/devices/<VF>/nvidia/{creatable_vgpu_types,current_vgpu_type}}.
   */
  VENDOR_SPECIFIC,
  /** Legacy mediated devices under {@code /sys/class/mdev_bus/<PF>/mdev_supported_types}. */
  LEGACY_MDEV
}
