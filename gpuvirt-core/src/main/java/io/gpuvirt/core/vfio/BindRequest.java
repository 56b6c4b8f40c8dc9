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
 */
public record BindRequest(Set<PciAddress> devices, String driver,
    Set<PciAddress> allowedForeignDevices, boolean resetBeforeBind) {

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

  /** A builder: driver {@code vfio-pci}, no foreign devices allowed, no reset. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this request's devices, driver and flags. */
  public Builder toBuilder() {
    return builder().devices(devices).driver(driver).allowForeignDevices(allowedForeignDevices)
        .resetBeforeBind(resetBeforeBind);
  }

  /** Builds {@link BindRequest}s. */
  public static final class Builder {
    private final TreeSet<PciAddress> devices = new TreeSet<>();
    private final TreeSet<PciAddress> allowed = new TreeSet<>();
    private String driver = VFIO_PCI;
    private boolean reset;

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

    public BindRequest build() {
      return new BindRequest(devices, driver, allowed, reset);
    }
  }

  /** The requested devices in address order. */
  public List<PciAddress> sortedDevices() {
    return List.copyOf(new TreeSet<>(devices));
  }
}
