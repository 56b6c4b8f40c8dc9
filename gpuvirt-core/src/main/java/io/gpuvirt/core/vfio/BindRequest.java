package io.gpuvirt.core.vfio;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What to bind: devices whose IOMMU groups go to a VFIO driver.
 *
 * <p>Two guard rails refuse a bind before anything on the host changes, each with an explicit
 * override: a target driver that is not a VFIO driver ({@link VfioDrivers#isVfioDriver}), and an
 * endpoint that backs a mounted filesystem (the NVMe drive holding {@code /}). See
 * {@link Builder#allowNonVfioDriver} and {@link Builder#allowMountedDevices}.
 *
 * <pre>{@code
 * BindRequest r = BindRequest.builder()
 *     .device(PciAddress.parse("0000:17:00.0"))
 *     .resetBeforeBind(true)
 *     .build();
 * }</pre>
 *
 * @param devices the devices asked for; each expands to the endpoints of its IOMMU group
 * @param driver the VFIO driver ({@code vfio-pci}, or a variant such as {@code nvgrace_gpu_vfio_pci})
 * @param allowedForeignDevices endpoints that may come along although not asked for (a NIC that
 *     shares the GPU's group on a switch without ACS); anything else in a group is refused
 * @param resetBeforeBind whether to function-reset each device that offers {@code reset} while it
 *     is still on its host driver
 * @param allowNonVfioDriver whether {@code driver} may be a driver that is not a VFIO driver
 *     (off by default: such a bind hands the devices to another host driver, not to a VM)
 * @param allowMountedDevices whether an endpoint that backs a mounted filesystem may be bound
 *     (off by default: unbinding it takes the filesystem away from the host)
 */
public record BindRequest(Set<PciAddress> devices, String driver,
    Set<PciAddress> allowedForeignDevices, boolean resetBeforeBind, boolean allowNonVfioDriver,
    boolean allowMountedDevices) {

  /** The default VFIO driver. */
  public static final String VFIO_PCI = "vfio-pci";

  public BindRequest {
    devices = Set.copyOf(new TreeSet<>(devices));
    allowedForeignDevices = Set.copyOf(new TreeSet<>(allowedForeignDevices));
    if (devices.isEmpty()) {
      throw new InvalidValueException("bind request names no device; give at least one address");
    }
    checkDriverName(driver);
  }

  /**
   * Returns {@code driver} if it is a plausible kernel driver name (letters, digits, {@code _ . -}).
   *
   * @throws InvalidValueException naming the bad value otherwise
   */
  public static String checkDriverName(String driver) {
    if (driver == null || !driver.matches("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")) {
      throw new InvalidValueException("invalid driver name '" + driver
          + "': expected a kernel driver name such as vfio-pci");
    }
    return driver;
  }

  /**
   * A builder: driver {@code vfio-pci}, no foreign devices allowed, no reset, both guard rails on
   * (no non-VFIO driver, no device that backs a mounted filesystem).
   */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this request's devices, driver and flags. */
  public Builder toBuilder() {
    return builder().devices(devices).driver(driver).allowForeignDevices(allowedForeignDevices)
        .resetBeforeBind(resetBeforeBind).allowNonVfioDriver(allowNonVfioDriver)
        .allowMountedDevices(allowMountedDevices);
  }

  /** Builds {@link BindRequest}s. */
  public static final class Builder {
    private final TreeSet<PciAddress> devices = new TreeSet<>();
    private final TreeSet<PciAddress> allowed = new TreeSet<>();
    private String driver = VFIO_PCI;
    private boolean reset;
    private boolean allowNonVfioDriver;
    private boolean allowMountedDevices;

    private Builder() {}

    public Builder device(PciAddress address) {
      devices.add(address);
      return this;
    }

    public Builder devices(Collection<PciAddress> addresses) {
      devices.addAll(addresses);
      return this;
    }

    /** Forgets the devices and allowed foreign devices given so far (keeps driver and flags). */
    public Builder clearDevices() {
      devices.clear();
      allowed.clear();
      return this;
    }

    public Builder driver(String name) {
      this.driver = name;
      return this;
    }

    public Builder allowForeignDevice(PciAddress address) {
      allowed.add(address);
      return this;
    }

    public Builder allowForeignDevices(Collection<PciAddress> addresses) {
      allowed.addAll(addresses);
      return this;
    }

    public Builder resetBeforeBind(boolean value) {
      this.reset = value;
      return this;
    }

    /**
     * Allows binding to a driver that is not a VFIO driver (default false). Without it,
     * {@link VfioBinder#plan} and {@link VfioBinder#bind} refuse such a request with a
     * {@link GroupRefusedException} before any change: the devices would go to another host
     * driver, not to a VM, and no lease would own them.
     */
    public Builder allowNonVfioDriver(boolean value) {
      this.allowNonVfioDriver = value;
      return this;
    }

    /**
     * Allows binding an endpoint that backs a mounted filesystem (default false). Without it,
     * {@link VfioBinder#plan} and {@link VfioBinder#bind} read the host's mount table
     * ({@code /proc/self/mounts}), trace each mounted block device to its PCI function, and refuse
     * with a {@link GroupRefusedException} naming the device, the block device and the mount point
     * before any change, since unbinding the device would take the filesystem away from the host
     * (the NVMe drive with {@code /} on it). A host without a mount table is refused too.
     */
    public Builder allowMountedDevices(boolean value) {
      this.allowMountedDevices = value;
      return this;
    }

    public BindRequest build() {
      return new BindRequest(devices, driver, allowed, reset, allowNonVfioDriver,
          allowMountedDevices);
    }
  }

  /** The requested devices in address order. */
  public List<PciAddress> sortedDevices() {
    return List.copyOf(new TreeSet<>(devices));
  }
}
