package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An immutable snapshot of a host's PCI devices and IOMMU groups, with queries.
 *
 * <p>Obtain one with {@code TopologyScanner.scan(sysfs)}. A snapshot never changes; scan again to
 * see the host as it is now.
 */
public final class Topology {
  private final String source;
  private final Map<PciAddress, PciDevice> devices;
  private final Map<Integer, IommuGroup> groups;

  /**
   * Creates a snapshot.
   *
   * @param source where it was read from, for messages ({@code host root /})
   * @param devices every PCI function of the host
   * @param groups the IOMMU groups; empty when the IOMMU is off
   */
  public Topology(String source, List<PciDevice> devices, List<IommuGroup> groups) {
    this.source = source;
    TreeMap<PciAddress, PciDevice> byAddress = new TreeMap<>();
    for (PciDevice d : devices) {
      if (byAddress.put(d.address(), d) != null) {
        throw new InvalidValueException("device " + d.address() + " listed twice in " + source);
      }
    }
    TreeMap<Integer, IommuGroup> byNumber = new TreeMap<>();
    for (IommuGroup g : groups) {
      if (byNumber.put(g.number(), g) != null) {
        throw new InvalidValueException("IOMMU group " + g.number() + " listed twice in " + source);
      }
    }
    this.devices = Collections.unmodifiableMap(byAddress);
    this.groups = Collections.unmodifiableMap(byNumber);
  }

  /** Where this snapshot was read from, for messages. */
  public String source() {
    return source;
  }

  /** Every device, sorted by address. */
  public List<PciDevice> devices() {
    return List.copyOf(devices.values());
  }

  /** The device at {@code address}, if the host has one. */
  public Optional<PciDevice> device(PciAddress address) {
    return Optional.ofNullable(devices.get(address));
  }

  /**
   * The device at {@code address}.
   *
   * @throws UnknownDeviceException naming the address and the host when there is none
   */
  public PciDevice require(PciAddress address) {
    PciDevice d = devices.get(address);
    if (d == null) {
      throw new UnknownDeviceException(address, source);
    }
    return d;
  }

  /** GPUs (class 0x0300 or 0x0302), VFs included (see {@link PciDevice#isVirtualFunction()}). */
  public List<PciDevice> gpus() {
    return devices.values().stream().filter(PciDevice::isGpu).toList();
  }

  /** NVIDIA NVSwitches (class 0x0680). */
  public List<PciDevice> nvSwitches() {
    return devices.values().stream().filter(PciDevice::isNvSwitch).toList();
  }

  /** Whether the host has IOMMU groups at all (the IOMMU is on). */
  public boolean iommuEnabled() {
    return !groups.isEmpty();
  }

  /** The IOMMU groups, sorted by number. */
  public List<IommuGroup> iommuGroups() {
    return List.copyOf(groups.values());
  }

  /** The IOMMU group with this number. */
  public Optional<IommuGroup> iommuGroup(int number) {
    return Optional.ofNullable(groups.get(number));
  }

  /** The IOMMU group of a device, if it has one. */
  public Optional<IommuGroup> groupOf(PciAddress address) {
    PciDevice d = require(address);
    return d.iommuGroup().isPresent() ? iommuGroup(d.iommuGroup().getAsInt()) : Optional.empty();
  }

  /** The devices of a group, sorted by address. */
  public List<PciDevice> members(IommuGroup group) {
    return group.members().stream().map(this::require).toList();
  }

  /** The NUMA nodes devices report, -1 included if some report no affinity. */
  public SortedSet<Integer> numaNodes() {
    TreeSet<Integer> nodes = new TreeSet<>();
    devices.values().forEach(d -> nodes.add(d.numaNode()));
    return Collections.unmodifiableSortedSet(nodes);
  }

  /** The devices on a NUMA node, sorted by address. */
  public List<PciDevice> devicesOnNumaNode(int node) {
    return devices.values().stream().filter(d -> d.numaNode() == node).toList();
  }

  /** The devices whose parent is {@code address}, sorted by address. */
  public List<PciDevice> children(PciAddress address) {
    return devices.values().stream().filter(d -> d.parent().equals(Optional.of(address))).toList();
  }

  /** The devices directly on a root bus ({@code 0000:14}), sorted by address. */
  public List<PciDevice> rootDevices(String rootBus) {
    return devices.values().stream()
        .filter(d -> d.parent().isEmpty() && d.rootBus().equals(rootBus)).toList();
  }

  /** The root buses, sorted. */
  public List<String> rootBuses() {
    return devices.values().stream().map(PciDevice::rootBus).distinct()
        .sorted(Comparator.naturalOrder()).toList();
  }

  /**
   * The bridges and ports between a device and its root complex, nearest first: for an HGX B200 GPU
   * {@code 16:00.0} (switch downstream port), {@code 15:00.0} (switch upstream port), {@code 14:02.0}
   * (root port).
   */
  public List<PciDevice> upstreamChain(PciAddress address) {
    List<PciDevice> chain = new ArrayList<>();
    Optional<PciAddress> next = require(address).parent();
    while (next.isPresent()) {
      PciDevice up = require(next.get());
      if (chain.contains(up)) {
        throw new IllegalStateException("parent cycle at " + up.address() + " in " + source);
      }
      chain.add(up);
      next = up.parent();
    }
    return List.copyOf(chain);
  }

  /**
   * What the snapshot holds, in one line for an operator: {@code "12 PCI devices, 0 GPUs,
   * 0 NVSwitches; IOMMU off: /sys/kernel/iommu_groups is empty"} or {@code "... ; IOMMU on: 9
   * groups"}. GPUs count virtual functions too.
   */
  public String summary() {
    String counts = count(devices.size(), "PCI device", "PCI devices") + ", "
        + count(gpus().size(), "GPU", "GPUs") + ", "
        + count(nvSwitches().size(), "NVSwitch", "NVSwitches");
    String iommu = iommuEnabled() ? "IOMMU on: " + count(groups.size(), "group", "groups")
        : "IOMMU off: /sys/kernel/iommu_groups is empty (turn on VT-d or AMD-Vi in the firmware and"
            + " boot with intel_iommu=on or amd_iommu=on)";
    return counts + "; " + iommu;
  }

  private static String count(int n, String singular, String plural) {
    return n + " " + (n == 1 ? singular : plural);
  }

  /**
   * The nearest bridge or port that both devices sit under (neither device itself counts): for
   * two GPUs behind one PCIe switch, the switch port they share; for two devices under one root
   * port, that root port. Empty when they share no bridge (different root ports or root buses).
   *
   * @throws UnknownDeviceException when either address names no device of this host
   */
  public Optional<PciDevice> nearestCommonBridge(PciAddress a, PciAddress b) {
    List<PciDevice> common = commonUpstream(a, b);
    return common.isEmpty() ? Optional.empty() : Optional.of(common.get(0));
  }

  /**
   * The nearest PCIe switch port that both devices sit under, for placement by PCIe locality: a
   * bridge whose port type is switch upstream or switch downstream. When a bridge reports no port
   * type (no readable PCI Express capability), any bridge that is not on a root bus counts, so a
   * root port never does. Empty when the devices share no switch.
   *
   * @throws UnknownDeviceException when either address names no device of this host
   */
  public Optional<PciDevice> commonSwitch(PciAddress a, PciAddress b) {
    return commonUpstream(a, b).stream().filter(Topology::isSwitchPort).findFirst();
  }

  private static boolean isSwitchPort(PciDevice d) {
    if (d.portType().isPresent()) {
      PciePortType t = d.portType().get();
      return t == PciePortType.SWITCH_UPSTREAM || t == PciePortType.SWITCH_DOWNSTREAM;
    }
    return d.parent().isPresent();
  }

  /** The bridges above both devices, nearest first. */
  private List<PciDevice> commonUpstream(PciAddress a, PciAddress b) {
    List<PciDevice> above = upstreamChain(b);
    return upstreamChain(a).stream().filter(above::contains).toList();
  }

  /**
   * The device tree drawn the way {@code lspci -tv} draws it, one line per leaf device:
   *
   * <pre>
   * -[0000:14]-+-02.0-[15-1a]----00.0-[16-1a]----00.0-[17]----00.0  10de:2901 GPU [0302] ...
   * </pre>
   *
   * <p>Root buses and the buses behind bridges are drawn as lspci draws them ({@code [dddd:bb]},
   * {@code -[15-1a]-}); each leaf is followed by its vendor:device id and class, and GPUs and
   * NVSwitches also by driver, IOMMU group, NUMA node and BAR sizes.
   */
  public String renderTree() {
    return TopologyRenderer.tree(this, true);
  }
}
