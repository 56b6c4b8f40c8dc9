package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.HostPaths;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One PCI function of a simulated host, as a {@link HostProfile} describes it at boot.
 *
 * <p>A device with a {@link #busRange()} is a PCI-to-PCI bridge (header type 1: a root port or a
 * switch port); every other device is an endpoint (header type 0), NVSwitches (class 0x0680)
 * included. Virtual functions are not listed: they come from a physical function's {@link #sriov()}.
 *
 * @param address the function's address
 * @param parent the bridge it sits behind; empty for a device on a root bus
 * @param id vendor and device id
 * @param subsystem subsystem vendor and device id
 * @param pciClass the 24-bit class code
 * @param revision the revision id (0 to 0xff)
 * @param busRange the buses behind a bridge; present exactly for bridges
 * @param portType the PCI Express port type of the device's PCIe capability; empty for a
 *     conventional PCI function (a host bridge) that has none
 * @param bars the populated BARs (addresses are bus addresses; bridges may have none)
 * @param numaNode the NUMA node, -1 for no affinity
 * @param iommuGroup the IOMMU group; empty exactly when the host's IOMMU is off
 * @param driver the device's default driver: bound at boot when loaded, and the one
 *     {@code drivers_probe} picks when no {@code driver_override} is set
 * @param moduleId the GPU module id (Fabric Manager physical id), for GPUs on an NVLink baseboard
 * @param resettable whether the kernel offers a function reset (a {@code reset} file)
 * @param label the platform slot label ({@code label} file, lspci's {@code DeviceName})
 * @param acs whether the port implements Access Control Services (an extended capability)
 * @param sriov the SR-IOV capability of a physical function
 * @param mounts the filesystems the host has mounted from this device (an NVMe controller's
 *     namespaces and partitions): the tree gets their block devices under the device's directory,
 *     {@code /sys/block}, {@code /sys/class/block} and a line each in {@code /proc/self/mounts}
 */
public record DeviceSpec(PciAddress address, Optional<PciAddress> parent, PciId id,
    PciId subsystem, PciClass pciClass, int revision, Optional<BusRange> busRange,
    Optional<PciePortType> portType, List<Bar> bars, int numaNode, OptionalInt iommuGroup,
    Optional<String> driver, OptionalInt moduleId, boolean resettable, Optional<String> label,
    boolean acs, Optional<SriovSpec> sriov, List<MountSpec> mounts) {

  public DeviceSpec {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(parent, "parent of " + address);
    Objects.requireNonNull(id, "id of " + address);
    Objects.requireNonNull(subsystem, "subsystem of " + address);
    Objects.requireNonNull(pciClass, "class of " + address);
    Objects.requireNonNull(busRange, "busRange of " + address);
    Objects.requireNonNull(portType, "portType of " + address);
    Objects.requireNonNull(iommuGroup, "iommuGroup of " + address);
    Objects.requireNonNull(driver, "driver of " + address);
    Objects.requireNonNull(moduleId, "moduleId of " + address);
    Objects.requireNonNull(label, "label of " + address);
    Objects.requireNonNull(sriov, "sriov of " + address);
    bars = List.copyOf(bars);
    mounts = List.copyOf(mounts);
    if (revision < 0 || revision > 0xff) {
      throw new InvalidValueException(address + ": revision must be 0..0xff, was " + revision);
    }
    if (numaNode < -1) {
      throw new InvalidValueException(address + ": NUMA node must be -1 or more, was " + numaNode);
    }
    if (iommuGroup.isPresent() && iommuGroup.getAsInt() < 0) {
      throw new InvalidValueException(address + ": IOMMU group must be 0 or more, was "
          + iommuGroup.getAsInt());
    }
    if (moduleId.isPresent() && moduleId.getAsInt() < 0) {
      throw new InvalidValueException(address + ": module id must be 0 or more, was "
          + moduleId.getAsInt());
    }
    driver.ifPresent(d -> checkDriverName(address, d));
    label.ifPresent(l -> {
      if (l.isEmpty() || l.contains("\n")) {
        throw new InvalidValueException(address + ": label must be one non-empty line, was '"
            + l + "'");
      }
    });
    if (parent.isPresent() && parent.get().equals(address)) {
      throw new InvalidValueException(address + ": a device cannot be its own parent");
    }
    boolean[] used = new boolean[6];
    int last = -1;
    for (Bar bar : bars) {
      if (bar.index() <= last) {
        throw new InvalidValueException(address + ": BARs must be in increasing index order, "
            + "BAR " + bar.index() + " follows BAR " + last);
      }
      int slots = bar.is64Bit() ? 2 : 1;
      if (bar.index() + slots > 6 || used[bar.index()]) {
        throw new InvalidValueException(address + ": BAR " + bar.index()
            + (bar.is64Bit() ? " is 64-bit and needs two registers; " : " ")
            + "it collides with another BAR or runs past BAR 5");
      }
      for (int i = 0; i < slots; i++) {
        used[bar.index() + i] = true;
      }
      last = bar.index();
      if (bar.start() < 0 || bar.start() % bar.size() != 0) {
        throw new InvalidValueException(address + ": BAR " + bar.index() + " at 0x"
            + Long.toHexString(bar.start()) + " is not aligned to its size " + bar.humanSize());
      }
      if (Long.bitCount(bar.size()) != 1) {
        throw new InvalidValueException(address + ": BAR " + bar.index() + " size "
            + bar.size() + " is not a power of two");
      }
      if (!bar.is64Bit() && !bar.io() && bar.end() > 0xffffffffL) {
        throw new InvalidValueException(address + ": 32-bit BAR " + bar.index()
            + " ends above 4G at 0x" + Long.toHexString(bar.end()));
      }
      if (bar.io() && bar.end() > 0xffffL) {
        throw new InvalidValueException(address + ": I/O BAR " + bar.index()
            + " ends above 0xffff");
      }
    }
    if (busRange.isPresent()) {
      if (bars.stream().anyMatch(b -> b.index() > 1)) {
        throw new InvalidValueException(address + ": a bridge has only BARs 0 and 1");
      }
      if (sriov.isPresent()) {
        throw new InvalidValueException(address + ": a bridge cannot be an SR-IOV PF");
      }
      if (!mounts.isEmpty()) {
        throw new InvalidValueException(address + ": a bridge has no block devices to mount");
      }
      if (busRange.get().secondary() <= address.bus()) {
        throw new InvalidValueException(address + ": the secondary bus "
            + busRange.get() + " must be above the bridge's own bus");
      }
    }
  }

  static void checkDriverName(Object owner, String name) {
    if (!name.matches("[A-Za-z0-9_.-]{1,64}")) {
      throw new InvalidValueException(owner + ": driver name '" + name
          + "' must be 1-64 letters, digits, '_', '-' or '.'");
    }
  }

  /** Whether this is a PCI-to-PCI bridge (it owns a subordinate bus). */
  public boolean isBridge() {
    return busRange.isPresent();
  }

  /** A builder with defaults (an unbound endpoint with no BARs and no affinity). */
  public static Builder builder(PciAddress address) {
    return new Builder(address);
  }

  /** A builder holding this spec's values. */
  public Builder toBuilder() {
    Builder b = new Builder(address);
    b.parent = parent;
    b.id = id;
    b.subsystem = subsystem;
    b.pciClass = pciClass;
    b.revision = revision;
    b.busRange = busRange;
    b.portType = portType;
    b.bars = new ArrayList<>(bars);
    b.numaNode = numaNode;
    b.iommuGroup = iommuGroup;
    b.driver = driver;
    b.moduleId = moduleId;
    b.resettable = resettable;
    b.label = label;
    b.acs = acs;
    b.sriov = sriov;
    b.mounts = new ArrayList<>(mounts);
    return b;
  }

  /**
   * A filesystem mounted from an NVMe namespace of the device (an NVMe controller), as
   * {@code /proc/self/mounts} lists it: {@code /dev/nvme0n1p2 / ext4 rw,relatime 0 0}.
   *
   * <pre>{@code
   * DeviceSpec.MountSpec root = new DeviceSpec.MountSpec("nvme0n1", 2, "/", "ext4");
   * }</pre>
   *
   * @param namespace the namespace's block device, {@code nvme<C>n<N>}; its controller is
   *     {@code nvme<C>}
   * @param partition the partition number (1 or more), or 0 for a filesystem on the whole namespace
   * @param mountPoint where it is mounted: absolute, no newline or backslash (spaces and tabs are
   *     written as the kernel escapes them, {@code \040})
   * @param fsType the filesystem type ({@code ext4}, {@code xfs}, {@code vfat})
   */
  public record MountSpec(String namespace, int partition, String mountPoint, String fsType) {

    public MountSpec {
      if (namespace == null || !namespace.matches("nvme[0-9]{1,3}n[0-9]{1,3}")) {
        throw new InvalidValueException("NVMe namespace '" + namespace
            + "' must be nvme<controller>n<namespace>, such as nvme0n1");
      }
      if (partition < 0 || partition > 128) {
        throw new InvalidValueException(namespace + ": partition must be 0 (whole namespace) to"
            + " 128, was " + partition);
      }
      try {
        HostPaths.check(mountPoint);
      } catch (RuntimeException e) {
        throw new InvalidValueException(namespace + ": mount point '" + mountPoint
            + "' must be an absolute path without '.', '..', empty segments, newlines or"
            + " backslashes", e);
      }
      if (fsType == null || !fsType.matches("[a-z0-9][a-z0-9._]{0,31}")) {
        throw new InvalidValueException(namespace + ": filesystem type '" + fsType
            + "' must be a kernel filesystem name such as ext4");
      }
    }

    /** The controller, {@code nvme0} for {@code nvme0n1}. */
    public String controller() {
      return namespace.substring(0, namespace.lastIndexOf('n'));
    }

    /** The mounted block device's name: {@code nvme0n1p2}, or the namespace for partition 0. */
    public String blockDevice() {
      return partition == 0 ? namespace : namespace + "p" + partition;
    }
  }

  /**
   * The SR-IOV capability of a physical function. VF {@code i} (from 0) gets routing id
   * {@code pf + firstVfOffset + i * vfStride} and must stay on the PF's bus.
   *
   * @param totalVfs {@code sriov_totalvfs}, 1 or more
   * @param vfDeviceId the VFs' device id (the vendor is the PF's)
   * @param firstVfOffset routing-id offset of VF 0 from the PF
   * @param vfStride routing-id distance between VFs
   * @param vfBar BAR of VF 0 (start, size per VF, type); VF {@code i} lies {@code i * size} above
   * @param enabledVfs VFs enabled at boot ({@code sriov_numvfs})
   * @param vfDriver the VFs' default driver
   */
  public record SriovSpec(int totalVfs, int vfDeviceId, int firstVfOffset, int vfStride, Bar vfBar,
      int enabledVfs, Optional<String> vfDriver) {

    public SriovSpec {
      Objects.requireNonNull(vfBar, "vfBar");
      Objects.requireNonNull(vfDriver, "vfDriver");
      if (totalVfs < 1 || totalVfs > 255) {
        throw new InvalidValueException("SR-IOV totalVfs must be 1..255, was " + totalVfs);
      }
      if (vfDeviceId < 0 || vfDeviceId > 0xffff) {
        throw new InvalidValueException("VF device id out of range: " + vfDeviceId);
      }
      if (firstVfOffset < 1 || vfStride < 1) {
        throw new InvalidValueException("SR-IOV offset and stride must be 1 or more, were "
            + firstVfOffset + " and " + vfStride);
      }
      if (enabledVfs < 0 || enabledVfs > totalVfs) {
        throw new InvalidValueException("SR-IOV enabledVfs must be 0.." + totalVfs + ", was "
            + enabledVfs);
      }
      if (vfBar.index() != 0 || vfBar.io() || Long.bitCount(vfBar.size()) != 1
          || vfBar.start() % vfBar.size() != 0) {
        throw new InvalidValueException("the VF BAR must be a size-aligned memory BAR 0 with a "
            + "power-of-two size, was " + vfBar);
      }
      vfDriver.ifPresent(d -> checkDriverName("VF driver", d));
    }

    /** The address of VF {@code index} of the PF at {@code pf}. */
    public PciAddress vfAddress(PciAddress pf, int index) {
      int rid = (pf.bus() << 8) | (pf.device() << 3) | pf.function();
      int vf = rid + firstVfOffset + index * vfStride;
      return new PciAddress(pf.domain(), (vf >> 8) & 0xff, (vf >> 3) & 0x1f, vf & 7);
    }

    /** A copy with another number of VFs enabled at boot. */
    public SriovSpec withEnabledVfs(int count) {
      return new SriovSpec(totalVfs, vfDeviceId, firstVfOffset, vfStride, vfBar, count, vfDriver);
    }
  }

  /** Builds {@link DeviceSpec} values; {@link #build()} validates and names the bad value. */
  public static final class Builder {
    private final PciAddress address;
    private Optional<PciAddress> parent = Optional.empty();
    private PciId id = new PciId(0xffff, 0xffff);
    private PciId subsystem = new PciId(0, 0);
    private PciClass pciClass = new PciClass(0);
    private int revision;
    private Optional<BusRange> busRange = Optional.empty();
    private Optional<PciePortType> portType = Optional.of(PciePortType.ENDPOINT);
    private List<Bar> bars = new ArrayList<>();
    private int numaNode = -1;
    private OptionalInt iommuGroup = OptionalInt.empty();
    private Optional<String> driver = Optional.empty();
    private OptionalInt moduleId = OptionalInt.empty();
    private boolean resettable;
    private Optional<String> label = Optional.empty();
    private boolean acs;
    private Optional<SriovSpec> sriov = Optional.empty();
    private List<MountSpec> mounts = new ArrayList<>();

    private Builder(PciAddress address) {
      this.address = Objects.requireNonNull(address, "address");
    }

    /** The bridge this device sits behind ({@code null}: on a root bus). */
    public Builder parent(PciAddress value) {
      this.parent = Optional.ofNullable(value);
      return this;
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

    /** Makes this a bridge owning these buses ({@code null}: an endpoint). */
    public Builder busRange(BusRange value) {
      this.busRange = Optional.ofNullable(value);
      return this;
    }

    /** The PCIe port type ({@code null}: a conventional PCI function without the capability). */
    public Builder portType(PciePortType value) {
      this.portType = Optional.ofNullable(value);
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

    public Builder numaNode(int value) {
      this.numaNode = value;
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

    /** The default driver ({@code null}: none). */
    public Builder driver(String value) {
      this.driver = Optional.ofNullable(value);
      return this;
    }

    public Builder moduleId(int value) {
      this.moduleId = OptionalInt.of(value);
      return this;
    }

    public Builder noModuleId() {
      this.moduleId = OptionalInt.empty();
      return this;
    }

    public Builder resettable(boolean value) {
      this.resettable = value;
      return this;
    }

    /** The slot label ({@code null}: none). */
    public Builder label(String value) {
      this.label = Optional.ofNullable(value);
      return this;
    }

    public Builder acs(boolean value) {
      this.acs = value;
      return this;
    }

    /** The SR-IOV capability ({@code null}: not a PF). */
    public Builder sriov(SriovSpec value) {
      this.sriov = Optional.ofNullable(value);
      return this;
    }

    /** Adds a filesystem the host has mounted from this device (see {@link MountSpec}). */
    public Builder mount(MountSpec value) {
      this.mounts.add(Objects.requireNonNull(value, "mount"));
      return this;
    }

    /** Adds a filesystem on {@code namespace} partition {@code partition} mounted at a point. */
    public Builder mount(String namespace, int partition, String mountPoint, String fsType) {
      return mount(new MountSpec(namespace, partition, mountPoint, fsType));
    }

    /** Replaces the mounted filesystems. */
    public Builder mounts(List<MountSpec> value) {
      this.mounts = new ArrayList<>(value);
      return this;
    }

    public DeviceSpec build() {
      return new DeviceSpec(address, parent, id, subsystem, pciClass, revision, busRange, portType,
          bars, numaNode, iommuGroup, driver, moduleId, resettable, label, acs, sriov, mounts);
    }
  }
}
