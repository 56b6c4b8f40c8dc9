package io.gpuvirt.qemu.qmp;

import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * One PCI function of the guest as QMP {@code query-pci} reports it, with the devices behind it
 * when it is a bridge.
 *
 * @param bus the guest bus number
 * @param slot the slot on that bus
 * @param function the function number
 * @param pciClass base class and subclass ({@code class_info.class}) with a zero programming
 *     interface
 * @param id vendor and device id
 * @param qdevId the qdev id given with {@code id=}, empty when none
 * @param secondaryBus the bus behind a bridge, when this is one; 0 until the firmware numbers it
 * @param children the devices behind a bridge, as far as the firmware has numbered its bus
 * @param regions the BARs
 */
public record QmpPciDevice(int bus, int slot, int function, PciClass pciClass, PciId id,
    String qdevId, OptionalInt secondaryBus, List<QmpPciDevice> children, List<Region> regions) {

  /**
   * A BAR of a guest device.
   *
   * @param bar the BAR index (6 is the ROM)
   * @param memory whether it is a memory BAR (else I/O)
   * @param address the guest address, -1 when unassigned or decoding is off
   * @param size its size in bytes
   * @param prefetchable whether it is prefetchable memory
   * @param is64Bit whether it is a 64-bit memory BAR
   */
  public record Region(int bar, boolean memory, long address, long size, boolean prefetchable,
      boolean is64Bit) {}

  public QmpPciDevice {
    Objects.requireNonNull(pciClass, "pciClass");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(qdevId, "qdevId");
    Objects.requireNonNull(secondaryBus, "secondaryBus");
    children = List.copyOf(children);
    regions = List.copyOf(regions);
  }

  /** Whether this function is a PCI bridge (a root port, class 0x0604). */
  public boolean isBridge() {
    return secondaryBus.isPresent();
  }

  /** {@code 00:10.0}, the guest address on its bus. */
  public String location() {
    return String.format("%02x:%02x.%d", bus, slot, function);
  }
}
