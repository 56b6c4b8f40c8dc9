package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One PCI function as the host's sysfs describes it.
 *
 * @param address the function's address
 * @param id vendor and device id
 * @param subsystem subsystem vendor and device id ({@code 0000:0000} when the kernel omits them)
 * @param pciClass the class code
 * @param revision the revision id
 * @param driver the bound driver ({@code driver} link), empty when unbound
 * @param driverOverride the {@code driver_override} value, empty when unset ({@code (null)})
 * @param iommuGroup the IOMMU group number, empty when the IOMMU is off
 * @param numaNode the NUMA node, -1 when the platform reports no affinity
 * @param bars the populated BARs, in index order
 * @param parent the upstream bridge or port, empty for a device on a root bus
 * @param rootBus the root bus this device hangs under, {@code 0000:14} for {@code pci0000:14}
 * @param busRange the buses behind this device, present only for a bridge that owns a bus
 * @param portType the PCI Express device/port type from config space, when it has the capability
 * @param sriov the SR-IOV state when this is a physical function with the capability
 * @param physicalFunction the PF when this is a virtual function
 * @param resettable whether the kernel offers a function reset ({@code reset} file)
 * @param label the platform's slot label ({@code label}), as lspci's {@code DeviceName}
 */
public record PciDevice(PciAddress address, PciId id, PciId subsystem, PciClass pciClass,
    int revision, Optional<String> driver, Optional<String> driverOverride, OptionalInt iommuGroup,
    int numaNode, List<Bar> bars, Optional<PciAddress> parent, String rootBus,
    Optional<BusRange> busRange, Optional<PciePortType> portType, Optional<Sriov> sriov,
    Optional<PciAddress> physicalFunction, boolean resettable, Optional<String> label) {

  public PciDevice {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(id, "id of " + address);
    Objects.requireNonNull(subsystem, "subsystem of " + address);
    Objects.requireNonNull(pciClass, "class of " + address);
    Objects.requireNonNull(rootBus, "rootBus of " + address);
    if (revision < 0 || revision > 0xff) {
      throw new InvalidValueException(address + ": revision out of range: " + revision);
    }
    if (numaNode < -1) {
      throw new InvalidValueException(address + ": NUMA node must be -1 or more, was " + numaNode);
    }
    bars = List.copyOf(bars);
    for (int i = 1; i < bars.size(); i++) {
      if (bars.get(i).index() <= bars.get(i - 1).index()) {
        throw new InvalidValueException(address + ": BARs must be in increasing index order");
      }
    }
    if (sriov.isPresent() && physicalFunction.isPresent()) {
      throw new InvalidValueException(address + ": a device cannot be both a PF and a VF");
    }
  }

  /** A builder with defaults for everything but the address. */
  public static Builder builder(PciAddress address) {
    return new Builder(address);
  }

  /** A builder holding this device's values. */
  public Builder toBuilder() {
    Builder b = new Builder(address);
    b.id = id;
    b.subsystem = subsystem;
    b.pciClass = pciClass;
    b.revision = revision;
    b.driver = driver;
    b.driverOverride = driverOverride;
    b.iommuGroup = iommuGroup;
    b.numaNode = numaNode;
    b.bars = new ArrayList<>(bars);
    b.parent = parent;
    b.rootBus = rootBus;
    b.busRange = busRange;
    b.portType = portType;
    b.sriov = sriov;
    b.physicalFunction = physicalFunction;
    b.resettable = resettable;
    b.label = label;
    return b;
  }

  /**
   * A GPU: class 0x0300 or 0x0302 (a VF of a GPU counts; see {@link #isVirtualFunction()}), and not
   * a BMC's display ({@link PciId#isBmcDisplayVendor}: the ASPEED VGA 1a03:2000 of server boards is
   * class 0x0300 too, and must never be allocated or listed as a GPU).
   */
  public boolean isGpu() {
    return pciClass.isGpu() && !PciId.isBmcDisplayVendor(id.vendor());
  }

  /** An NVIDIA NVSwitch: NVIDIA vendor id with class 0x0680 (an endpoint, not a bridge). */
  public boolean isNvSwitch() {
    return id.vendor() == PciId.NVIDIA && pciClass.baseAndSub() == PciClass.OTHER_BRIDGE;
  }

  /**
   * A bridge for the purposes of IOMMU-group ownership: it owns a subordinate bus, or its class is
   * exactly host bridge (0x0600) or PCI bridge (0x0604). Never decided by a 0x06xx mask.
   */
  public boolean isBridge() {
    return busRange.isPresent() || pciClass.isHostOrPciBridge();
  }

  /** A virtual function of an SR-IOV physical function. */
  public boolean isVirtualFunction() {
    return physicalFunction.isPresent();
  }

  /** The sum of the sizes of all memory BARs. */
  public long totalMemoryBarBytes() {
    return bars.stream().filter(b -> !b.io()).mapToLong(Bar::size).sum();
  }

  /** Builds {@link PciDevice} values; {@link #build()} validates and names the bad value. */
  public static final class Builder {
    private final PciAddress address;
    private PciId id = new PciId(0xffff, 0xffff);
    private PciId subsystem = new PciId(0, 0);
    private PciClass pciClass = new PciClass(0);
    private int revision;
    private Optional<String> driver = Optional.empty();
    private Optional<String> driverOverride = Optional.empty();
    private OptionalInt iommuGroup = OptionalInt.empty();
    private int numaNode = -1;
    private List<Bar> bars = new ArrayList<>();
    private Optional<PciAddress> parent = Optional.empty();
    private String rootBus;
    private Optional<BusRange> busRange = Optional.empty();
    private Optional<PciePortType> portType = Optional.empty();
    private Optional<Sriov> sriov = Optional.empty();
    private Optional<PciAddress> physicalFunction = Optional.empty();
    private boolean resettable;
    private Optional<String> label = Optional.empty();

    private Builder(PciAddress address) {
      this.address = Objects.requireNonNull(address, "address");
      this.rootBus = address.busId();
    }

    public Builder id(PciId value) {
      this.id = Objects.requireNonNull(value, "id");
      return this;
    }

    public Builder subsystem(PciId value) {
      this.subsystem = Objects.requireNonNull(value, "subsystem");
      return this;
    }

    public Builder pciClass(PciClass value) {
      this.pciClass = Objects.requireNonNull(value, "pciClass");
      return this;
    }

    public Builder revision(int value) {
      this.revision = value;
      return this;
    }

    public Builder driver(String value) {
      this.driver = Optional.ofNullable(value);
      return this;
    }

    public Builder driverOverride(String value) {
      this.driverOverride = Optional.ofNullable(value);
      return this;
    }

    public Builder iommuGroup(int value) {
      this.iommuGroup = OptionalInt.of(value);
      return this;
    }

    public Builder noIommuGroup() {
      this.iommuGroup = OptionalInt.empty();
      return this;
    }

    public Builder numaNode(int value) {
      this.numaNode = value;
      return this;
    }

    public Builder bars(List<Bar> value) {
      this.bars = new ArrayList<>(value);
      return this;
    }

    public Builder addBar(Bar value) {
      this.bars.add(Objects.requireNonNull(value, "bar"));
      return this;
    }

    public Builder parent(PciAddress value) {
      this.parent = Optional.ofNullable(value);
      return this;
    }

    public Builder rootBus(String value) {
      this.rootBus = Objects.requireNonNull(value, "rootBus");
      return this;
    }

    public Builder busRange(BusRange value) {
      this.busRange = Optional.ofNullable(value);
      return this;
    }

    public Builder portType(PciePortType value) {
      this.portType = Optional.ofNullable(value);
      return this;
    }

    public Builder sriov(Sriov value) {
      this.sriov = Optional.ofNullable(value);
      return this;
    }

    public Builder physicalFunction(PciAddress value) {
      this.physicalFunction = Optional.ofNullable(value);
      return this;
    }

    public Builder resettable(boolean value) {
      this.resettable = value;
      return this;
    }

    public Builder label(String value) {
      this.label = Optional.ofNullable(value);
      return this;
    }

    public PciDevice build() {
      return new PciDevice(address, id, subsystem, pciClass, revision, driver, driverOverride,
          iommuGroup, numaNode, bars, parent, rootBus, busRange, portType, sriov, physicalFunction,
          resettable, label);
    }
  }
}
