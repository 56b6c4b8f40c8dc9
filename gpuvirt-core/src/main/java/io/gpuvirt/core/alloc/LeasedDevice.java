package io.gpuvirt.core.alloc;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.vfio.BindRequest;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A device of a lease, as it was when it was allocated: what binding, QEMU and release need later.
 *
 * @param address the device
 * @param role why it is in the lease
 * @param id vendor:device
 * @param subsystem subsystem vendor:device
 * @param pciClass class code
 * @param numaNode NUMA node, -1 when the platform reports none
 * @param originalDriver the driver bound when the lease was made (teardown restores it); empty
 *     when the device was unbound
 * @param originalOverride the device's {@code driver_override} when the lease was made (teardown
 *     writes it back); empty when none was set
 * @param bars the populated BARs
 * @param physicalFunction the PF when this is an SR-IOV virtual function
 * @param moduleId the GPU's module id when the lease holds a Fabric Manager partition
 * @param vfioDriver the VFIO driver the device was bound to, recorded before binding starts
 *     (teardown and recovery expect exactly this driver, whatever the provisioner's configuration
 *     is later); empty while the lease is a reservation, and for a lease converted from format 1,
 *     which did not record it (then any VFIO driver is taken as gpuvirt's)
 * @param reset how the device was reset on its host driver before binding, recorded before the
 *     reset is written; empty when it was not reset
 */
public record LeasedDevice(PciAddress address, DeviceRole role, PciId id, PciId subsystem,
    PciClass pciClass, int numaNode, Optional<String> originalDriver,
    Optional<String> originalOverride, List<Bar> bars, Optional<PciAddress> physicalFunction,
    OptionalInt moduleId, Optional<String> vfioDriver, Optional<DeviceReset> reset) {

  public LeasedDevice {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(role, () -> "role of " + address);
    Objects.requireNonNull(id, () -> "id of " + address);
    Objects.requireNonNull(subsystem, () -> "subsystem of " + address);
    Objects.requireNonNull(pciClass, () -> "class of " + address);
    Objects.requireNonNull(originalDriver, () -> "originalDriver of " + address);
    Objects.requireNonNull(physicalFunction, () -> "physicalFunction of " + address);
    Objects.requireNonNull(moduleId, () -> "moduleId of " + address);
    Objects.requireNonNull(originalOverride, () -> "originalOverride of " + address);
    Objects.requireNonNull(vfioDriver, () -> "vfioDriver of " + address);
    Objects.requireNonNull(reset, () -> "reset of " + address);
    originalDriver.ifPresent(BindRequest::checkDriverName);
    originalOverride.ifPresent(BindRequest::checkDriverName);
    vfioDriver.ifPresent(BindRequest::checkDriverName);
    if (numaNode < -1) {
      throw new InvalidValueException(address + ": NUMA node must be -1 or more, was " + numaNode);
    }
    bars = List.copyOf(bars);
  }

  /**
   * A device of a reservation: nothing bound or reset yet ({@code originalOverride},
   * {@code vfioDriver} and {@code reset} empty).
   */
  public LeasedDevice(PciAddress address, DeviceRole role, PciId id, PciId subsystem,
      PciClass pciClass, int numaNode, Optional<String> originalDriver, List<Bar> bars,
      Optional<PciAddress> physicalFunction, OptionalInt moduleId) {
    this(address, role, id, subsystem, pciClass, numaNode, originalDriver, Optional.empty(), bars,
        physicalFunction, moduleId, Optional.empty(), Optional.empty());
  }

  /** The lease's record of {@code device} as it is now (driver and driver_override included). */
  public static LeasedDevice of(PciDevice device, DeviceRole role, OptionalInt moduleId) {
    return new LeasedDevice(device.address(), role, device.id(), device.subsystem(),
        device.pciClass(), device.numaNode(), device.driver(), device.driverOverride(),
        device.bars(), device.physicalFunction(), moduleId, Optional.empty(), Optional.empty());
  }

  /** The same record, bound (or about to be bound) to {@code driver}. */
  public LeasedDevice withVfioDriver(String driver) {
    return new LeasedDevice(address, role, id, subsystem, pciClass, numaNode, originalDriver,
        originalOverride, bars, physicalFunction, moduleId, Optional.of(driver), reset);
  }

  /** The same record, reset (or about to be reset) as {@code how} says. */
  public LeasedDevice withReset(DeviceReset how) {
    return new LeasedDevice(address, role, id, subsystem, pciClass, numaNode, originalDriver,
        originalOverride, bars, physicalFunction, moduleId, vfioDriver, Optional.of(how));
  }

  /**
   * Whether gpuvirt moves this device off its original driver: false when it already sat on the
   * VFIO driver it is leased on (a host that binds GPUs to vfio-pci at boot), so teardown leaves it
   * there.
   */
  public boolean movedByGpuvirt() {
    return originalDriver.isEmpty() || vfioDriver.isEmpty()
        || !originalDriver.equals(vfioDriver);
  }
}
