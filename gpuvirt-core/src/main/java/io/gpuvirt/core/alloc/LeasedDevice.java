package io.gpuvirt.core.alloc;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
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
 * @param originalDriver the driver bound when the lease was made (release restores it); empty when
 *     the device was unbound
 * @param bars the populated BARs
 * @param physicalFunction the PF when this is an SR-IOV virtual function
 * @param moduleId the GPU's module id when the lease holds a Fabric Manager partition
 */
public record LeasedDevice(PciAddress address, DeviceRole role, PciId id, PciId subsystem,
    PciClass pciClass, int numaNode, Optional<String> originalDriver, List<Bar> bars,
    Optional<PciAddress> physicalFunction, OptionalInt moduleId) {

  public LeasedDevice {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(role, () -> "role of " + address);
    Objects.requireNonNull(id, () -> "id of " + address);
    Objects.requireNonNull(subsystem, () -> "subsystem of " + address);
    Objects.requireNonNull(pciClass, () -> "class of " + address);
    Objects.requireNonNull(originalDriver, () -> "originalDriver of " + address);
    Objects.requireNonNull(physicalFunction, () -> "physicalFunction of " + address);
    Objects.requireNonNull(moduleId, () -> "moduleId of " + address);
    if (numaNode < -1) {
      throw new InvalidValueException(address + ": NUMA node must be -1 or more, was " + numaNode);
    }
    bars = List.copyOf(bars);
  }

  /** The lease's record of {@code device} as it is now. */
  public static LeasedDevice of(PciDevice device, DeviceRole role, OptionalInt moduleId) {
    return new LeasedDevice(device.address(), role, device.id(), device.subsystem(),
        device.pciClass(), device.numaNode(), device.driver(), device.bars(),
        device.physicalFunction(), moduleId);
  }
}
