package io.gpuvirt.core.doctor;

/** Where GPUs are expected to sit when no VM uses them. */
public enum GpuDriverPolicy {
  /**
   * GPUs are bound to vfio-pci at boot and stay there (full passthrough, the seed post's "permanent"
   * setup): the host NVIDIA driver must be blacklisted and GPUs not on vfio-pci are an error.
   */
  STATIC_VFIO,
  /**
   * GPUs sit on the host driver between tenants and are rebound per VM (shared NVSwitch mode,
   * where Fabric Manager needs them on nvidia): nvidia must not be blacklisted.
   */
  REBIND_PER_VM
}
