package io.gpuvirt.core.vfio;

/**
 * The one rule for "is this a VFIO driver": {@code vfio-pci} itself, or a VFIO variant driver,
 * whose kernel name ends in {@code -vfio-pci} or {@code _vfio_pci} ({@code nvgrace-gpu-vfio-pci},
 * {@code mlx5_vfio_pci}, {@code hisi_acc_vfio_pci}). A device on such a driver is either held by a
 * gpuvirt lease or in use outside gpuvirt; it is never free for allocation.
 */
public final class VfioDrivers {
  private VfioDrivers() {}

  /** Whether {@code driver} (a kernel driver name) is vfio-pci or a VFIO variant driver. */
  public static boolean isVfioDriver(String driver) {
    return driver.equals(BindRequest.VFIO_PCI) || driver.endsWith("-vfio-pci")
        || driver.endsWith("_vfio_pci");
  }
}
