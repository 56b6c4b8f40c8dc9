package io.gpuvirt.qemu.command;

import io.gpuvirt.core.host.Sysfs;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Whether a host can give devices to QEMU through iommufd instead of legacy VFIO groups: the
 * kernel's iommufd ({@code /dev/iommu}) and VFIO device character devices ({@code
 * CONFIG_VFIO_DEVICE_CDEV}: the {@code vfio-dev} class, whose {@code vfioN} nodes appear under
 * {@code /dev/vfio/devices} once a device is on a VFIO driver). Read before the devices are bound,
 * so it checks the host, not each device.
 *
 * @param devIommu whether {@code /dev/iommu} exists
 * @param vfioDeviceCdev whether {@code /sys/class/vfio-dev} exists
 */
public record HostIommufd(boolean devIommu, boolean vfioDeviceCdev) {
  /** A host without iommufd. */
  public static final HostIommufd NONE = new HostIommufd(false, false);

  /** What the host behind {@code host} has. */
  public static HostIommufd probe(Sysfs host) {
    Objects.requireNonNull(host, "host");
    return new HostIommufd(host.exists("/dev/iommu"), host.isDirectory("/sys/class/vfio-dev"));
  }

  /** Whether both are there. */
  public boolean available() {
    return devIommu && vfioDeviceCdev;
  }

  /** What is missing, for the plan: empty when {@link #available()}. */
  public List<String> missing() {
    List<String> out = new ArrayList<>();
    if (!devIommu) {
      out.add("/dev/iommu (a kernel with CONFIG_IOMMUFD, 6.2 or newer)");
    }
    if (!vfioDeviceCdev) {
      out.add("/sys/class/vfio-dev (VFIO device cdevs, CONFIG_VFIO_DEVICE_CDEV, 6.6 or newer)");
    }
    return List.copyOf(out);
  }
}
