package io.gpuvirt.core.vfio;

/** The steps of binding a device to a VFIO driver and of restoring it, as named in errors. */
public enum BindStep {
  /** Reading the device and its IOMMU group, checking the driver is loaded. */
  CHECK,
  /** Writing {@code 1} to the device's {@code reset} file (function-level reset). */
  RESET,
  /** Writing the target driver to {@code driver_override}. */
  SET_OVERRIDE,
  /** Writing the address to {@code <dev>/driver/unbind}. */
  UNBIND,
  /** Writing the address to {@code /sys/bus/pci/drivers_probe}. */
  PROBE,
  /** Reading the {@code driver} link back to confirm the bind. */
  VERIFY,
  /** Writing a newline to {@code driver_override} to clear it. */
  CLEAR_OVERRIDE
}
