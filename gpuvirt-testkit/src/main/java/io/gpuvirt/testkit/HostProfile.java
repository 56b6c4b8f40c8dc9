package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.host.HostPaths;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An immutable description of a simulated host at boot: its PCI functions, the drivers and kernel
 * modules that are loaded, the kernel command line, the Fabric Manager mode and any extra files.
 *
 * <p>Start from a preset ({@link #hgxB200()}, {@link #hgxH100()}, {@link #workstation()},
 * {@link #noAcs()}, {@link #iommuOff()}) or a {@link RandomHosts random} one and change it with
 * {@link #toBuilder()}:
 *
 * <pre>{@code
 * HostProfile noVfio = HostProfile.hgxB200().toBuilder().unloadDriver("vfio-pci").build();
 * }</pre>
 *
 * <p>{@link Builder#build()} checks that the profile describes a host Linux could have booted:
 * unique addresses, every device behind a bridge on that bridge's secondary bus, nested or disjoint
 * bus ranges, function 0 present for every multi-function slot, IOMMU groups on all devices or on
 * none, disjoint BARs and bridge windows, VFs that fit on their PF's bus. It names the first
 * device that breaks a rule.
 */
public final class HostProfile {
  /** The drivers that are built into the kernel rather than loaded as a module. */
  static final Set<String> BUILT_IN_DRIVERS = Set.of("pcieport");

  private final String name;
  private final List<DeviceSpec> devices;
  private final String cmdline;
  private final SortedSet<String> drivers;
  private final SortedSet<String> modules;
  private final OptionalInt fabricMode;
  private final SortedMap<String, String> files;
  private final CpuArchitecture architecture;
  private final List<NumaNodeSpec> numaNodes;
  private final SortedMap<String, Integer> platformDevices;

  private HostProfile(Builder b) {
    this.name = b.name;
    List<DeviceSpec> sorted = new ArrayList<>(b.devices.values());
    sorted.sort((x, y) -> x.address().compareTo(y.address()));
    this.devices = List.copyOf(sorted);
    this.cmdline = b.cmdline;
    this.drivers = Collections.unmodifiableSortedSet(new TreeSet<>(b.drivers));
    this.modules = Collections.unmodifiableSortedSet(new TreeSet<>(b.modules));
    this.fabricMode = b.fabricMode;
    this.files = Collections.unmodifiableSortedMap(new TreeMap<>(b.files));
    this.architecture = b.architecture;
    List<NumaNodeSpec> nodes = new ArrayList<>(b.numaNodes.values());
    nodes.sort((x, y) -> Integer.compare(x.id(), y.id()));
    this.numaNodes = List.copyOf(nodes);
    this.platformDevices = Collections.unmodifiableSortedMap(new TreeMap<>(b.platformDevices));
  }

  /**
   * An HGX B200 host: 8 GPUs 10de:2901 at {@code 17,3d,60,70,98,bb,dd,ed:00.0}, each three bridge
   * levels deep (root port, switch upstream port, switch downstream port) with a ConnectX-7 NIC on
   * another downstream port of the same switch; the 4 ConnectX-7 NVLink-management PFs at
   * {@code 05:00.0-3}; NVMe drives; GPUs on {@code nvidia}, vfio-pci loaded, one IOMMU group per
   * device (the BMC's ASPEED VGA 1a03:2000 at {@code 09:00.0} shares one with its AST1150 bridge),
   * {@code intel_iommu=on iommu=pt}, {@code FABRIC_MODE=1}. GPU module ids are not in PCI
   * order: 17→1 (as the seed post's {@code nvidia-smi -q} shows), 3d→4, 60→2, 70→3, 98→7, bb→5,
   * dd→8, ed→6.
   */
  public static HostProfile hgxB200() {
    return Presets.hgxB200();
  }

  /**
   * An HGX H100 host: 8 GPUs 10de:2330 at {@code 1b,43,52,61,9d,c3,d1,df:00.0}, each behind its own
   * PCIe switch with a ConnectX-7 15b3:1021 on a second downstream port (bus GPU+1, its own IOMMU
   * group: the switch has ACS); 4 NVSwitches 10de:22a3 (class 0x068000, driver
   * {@code nvidia-nvswitch}) at {@code 07-0a:00.0}, each in its own IOMMU group, as are their
   * switch ports; the BMC's ASPEED VGA 1a03:2000 (class 0x0300, driver {@code ast}) at
   * {@code 0d:00.0} behind its AST1150 bridge (one group, never a GPU to the allocator); GPU module
   * ids not in PCI order.
   */
  public static HostProfile hgxH100() {
    return Presets.hgxH100(true, false);
  }

  /**
   * An HGX H100 host; without {@code nvSwitchGroupEach} the four NVSwitches and their downstream
   * ports share one IOMMU group (platforms differ: both have been reported).
   */
  public static HostProfile hgxH100(boolean nvSwitchGroupEach) {
    return Presets.hgxH100(nvSwitchGroupEach, false);
  }

  /**
   * The {@link #hgxH100()} variant where two GPUs share an IOMMU group: GPU 1 (at {@code 1d:00.0})
   * sits on GPU 0's switch and GPU 5 (at {@code 9f:00.0}) on GPU 4's, and those switches' GPU
   * downstream ports lack ACS, so {@code 1b:00.0}+{@code 1d:00.0} and {@code 9d:00.0}+
   * {@code 9f:00.0} are each one group with their two ports (the NICs stay in their own groups).
   * A 1-GPU lease cannot take half of such a group.
   */
  public static HostProfile hgxH100SharedGroups() {
    return Presets.hgxH100(true, true);
  }

  /**
   * A workstation: a VGA GPU 10de:27b0 at {@code 01:00.0} with its HDMI audio function 10de:22bc at
   * {@code 01:00.1}, in one IOMMU group with the CPU root port above them (no ACS); an NVMe drive
   * at {@code 02:00.0} that holds the root filesystem ({@code /dev/nvme0n1p2} on {@code /}, the
   * EFI partition {@code /dev/nvme0n1p1} on {@code /boot/efi}); a NIC; NUMA node -1.
   */
  public static HostProfile workstation() {
    return Presets.workstation();
  }

  /**
   * A host without ACS: a GPU behind a PCIe switch whose downstream ports lack ACS, so its IOMMU
   * group also holds an unrelated NIC on the same switch (and the downstream ports).
   */
  public static HostProfile noAcs() {
    return Presets.noAcs();
  }

  /** The {@link #noAcs()} hardware booted without the IOMMU: no groups, no {@code intel_iommu=on}. */
  public static HostProfile iommuOff() {
    return noAcs().toBuilder().name("iommu-off").withoutIommu().build();
  }

  /**
   * A host with Intel VMD: the VMD controller 8086:28c0 at {@code 0000:00:0e.0} owns PCI domain
   * {@code 10000} (five hex digits), where an H100 PCIe sits at {@code 10000:01:00.0} and an NVMe
   * at {@code 10000:02:00.0}, each behind a VMD root port in its own IOMMU group.
   */
  public static HostProfile vmd() {
    return Presets.vmd();
  }

  /**
   * A PCIe vGPU host: two NVIDIA L40S (10de:26b9) at {@code 0000:3d:00.0} (NUMA 0) and
   * {@code 0000:bd:00.0} (NUMA 1), each behind its own root port, on the {@code nvidia} vGPU host
   * driver, 32 SR-IOV VFs each (offset 4, stride 1) that appear only after
   * {@code /usr/lib/nvidia/sriov-manage -e} ({@link FakeSriovManage}). Each VF then has
   * {@code nvidia/creatable_vgpu_types} and {@code nvidia/current_vgpu_type}; the kernel model
   * keeps a GPU homogeneous (one type at a time), shrinks the creatable list as VFs take a type
   * and empties it when the GPU is full (types from {@code VgpuTypeCatalogue.l40s()}).
   */
  public static HostProfile l40sVgpu() {
    return Presets.l40sVgpu();
  }

  /**
   * A vGPU host whose GPUs can also be split with MIG, without NVSwitch (so MIG-backed vGPUs are
   * supported): an HGX H200 4-GPU board, four H200 SXM (10de:2335) at {@code 0000:18:00.0},
   * {@code 0000:2a:00.0} (NUMA 0), {@code 0000:9a:00.0} and {@code 0000:ab:00.0} (NUMA 1), on the
   * {@code nvidia} vGPU host driver with 16 SR-IOV VFs each after {@code sriov-manage -e}. With
   * MIG off a VF offers the time-sliced H200X-141C; with MIG on it offers the MIG-backed
   * H200X-1-18C once a free 1g.18gb GPU instance exists, and taking it occupies that instance
   * (see {@code VgpuModel}). Buses and VF count are inferred.
   */
  public static HostProfile h200Vgpu() {
    return Presets.h200Vgpu();
  }

  /**
   * {@code hgx-b200-vgpu}: the {@link #hgxB200()} board in vGPU-based multitenancy ({@code
   * FABRIC_MODE=2}): its eight B200 GPUs on the {@code nvidia} vGPU host driver, each with 16
   * SR-IOV VFs that {@code sriov-manage -e} enables, and a simulated Fabric Manager in vGPU mode,
   * whose partitions are activated with the VFs of the vGPUs that use them. Only time-sliced
   * vGPUs (NVIDIA does not support MIG-backed vGPU on NVSwitch systems). The VF layout, the B200X
   * type table and Fabric Manager's vGPU-mode rules are inferred (see {@code Presets}).
   */
  public static HostProfile hgxB200Vgpu() {
    return Presets.hgxB200Vgpu();
  }

  /**
   * An older vGPU host with legacy mediated devices: two Tesla T4 (10de:1eb8, no SR-IOV) at
   * {@code 0000:3b:00.0} (NUMA 0) and {@code 0000:af:00.0} (NUMA 1) on the {@code nvidia} vGPU
   * host driver, each offering {@code /sys/class/mdev_bus/<PF>/mdev_supported_types/nvidia-<id>/}
   * ({@code name}, {@code description}, {@code available_instances}, {@code device_api},
   * {@code create}, {@code devices/}). Writing a UUID to {@code create} makes
   * {@code /sys/bus/mdev/devices/<uuid>}; writing 1 to its {@code remove} removes it. The kernel
   * model keeps a GPU homogeneous: once a type is placed the other types have 0 available
   * instances (types from {@code VgpuTypeCatalogue.t4()}).
   */
  public static HostProfile t4Mdev() {
    return Presets.t4Mdev();
  }

  /**
   * A GB200 NVL4 host (aarch64): two Grace CPUs (NUMA nodes 0 and 1, 72 cores each) and four
   * Blackwell GPUs 10de:2941 at {@code 0008:01:00.0}, {@code 0009:01:00.0} (Grace 0) and
   * {@code 0018:01:00.0}, {@code 0019:01:00.0} (Grace 1), each alone behind its own root port in
   * a PCI segment of its own; each GPU's coherent memory on a CPU-less NUMA node followed by 7
   * empty nodes for MIG (nodes 2-9, 10-17, 18-25, 26-33); an NVMe drive and a ConnectX-7 per
   * Grace; SMMUv3 IOMMU groups, the first NVMe's group also holding the platform USB controller
   * {@code PNP0D10:00}; GPUs on {@code nvidia}, the VFIO variant driver
   * {@code nvgrace_gpu_vfio_pci} loaded beside vfio-pci; {@code iommu.passthrough=1}.
   * Segment numbers, root-port ids and the NUMA numbering are inferred (see {@code Presets}).
   */
  public static HostProfile gb200Nvl4() {
    return Presets.gb200Nvl4();
  }

  /**
   * A scaling fixture, not a preset (no real host looks like it, and {@link #preset(String)} does
   * not know it): {@code boards} copies of the {@link #hgxB200()} baseboard, 58 functions each (8
   * GPUs with their switches and NICs, the 4 NVLink-management ConnectX-7 PFs, 2 NVMe drives),
   * board {@code k} in PCI domain {@code k}, so that a tree of the shape and depth of a real one
   * has {@code 58 * boards} functions (71 boards: 4,118). The BMC's display is left out, BARs and
   * IOMMU group numbers are shifted per board so none overlap, and only board 0 has GPU module ids.
   * For measuring how scans and allocations scale, as the benchmarks do.
   *
   * @throws InvalidValueException for fewer than 1 or more than 512 boards
   */
  public static HostProfile manyB200Boards(int boards) {
    return ManyBoards.profile(boards);
  }

  /** The names {@link #preset(String)} accepts. */
  public static List<String> presetNames() {
    return List.of("hgx-b200", "hgx-h100", "hgx-h100-shared-groups", "workstation", "no-acs",
        "iommu-off", "vmd", "l40s-vgpu", "h200-vgpu", "hgx-b200-vgpu", "t4-mdev", "gb200-nvl4");
  }

  /**
   * The preset with this name ({@link #presetNames()}).
   *
   * @throws InvalidValueException naming the known presets when there is none
   */
  public static HostProfile preset(String presetName) {
    switch (String.valueOf(presetName)) {
      case "hgx-b200":
        return hgxB200();
      case "hgx-h100":
        return hgxH100();
      case "hgx-h100-shared-groups":
        return hgxH100SharedGroups();
      case "workstation":
        return workstation();
      case "no-acs":
        return noAcs();
      case "iommu-off":
        return iommuOff();
      case "vmd":
        return vmd();
      case "l40s-vgpu":
        return l40sVgpu();
      case "h200-vgpu":
        return h200Vgpu();
      case "hgx-b200-vgpu":
        return hgxB200Vgpu();
      case "t4-mdev":
        return t4Mdev();
      case "gb200-nvl4":
        return gb200Nvl4();
      default:
        throw new InvalidValueException("unknown host profile '" + presetName
            + "'; choose one of " + presetNames());
    }
  }

  /** An empty builder (no devices; name "custom"). */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this profile's values. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.name = name;
    devices.forEach(d -> b.devices.put(d.address(), d));
    b.cmdline = cmdline;
    b.drivers.addAll(drivers);
    b.modules.addAll(modules);
    b.fabricMode = fabricMode;
    b.files.putAll(files);
    b.architecture = architecture;
    numaNodes.forEach(n -> b.numaNodes.put(n.id(), n));
    b.platformDevices.putAll(platformDevices);
    return b;
  }

  /** The profile's name ({@code hgx-b200}); a word for summaries and temp-dir names. */
  public String name() {
    return name;
  }

  /** The devices, sorted by address (virtual functions are not listed; see {@link DeviceSpec#sriov()}). */
  public List<DeviceSpec> devices() {
    return devices;
  }

  /** The device at {@code address}. */
  public Optional<DeviceSpec> device(PciAddress address) {
    return devices.stream().filter(d -> d.address().equals(address)).findFirst();
  }

  /**
   * The GPUs (class 0x0300 or 0x0302, not a BMC's display: see
   * {@link io.gpuvirt.core.pci.PciDevice#isGpu()}), sorted by address.
   */
  public List<DeviceSpec> gpus() {
    return devices.stream().filter(d -> d.pciClass().isGpu()
        && !PciId.isBmcDisplayVendor(d.id().vendor())).toList();
  }

  /** The kernel command line ({@code /proc/cmdline}, without the newline). */
  public String cmdline() {
    return cmdline;
  }

  /** The loaded PCI drivers: a directory under {@code /sys/bus/pci/drivers} each. */
  public SortedSet<String> drivers() {
    return drivers;
  }

  /** The loaded kernel modules: a directory under {@code /sys/module} each. */
  public SortedSet<String> modules() {
    return modules;
  }

  /** {@code FABRIC_MODE} of {@code fabricmanager.cfg}; empty when Fabric Manager is not installed. */
  public OptionalInt fabricMode() {
    return fabricMode;
  }

  /** Extra files of the host (host path to content), such as {@code /etc/modprobe.d/vfio.conf}. */
  public SortedMap<String, String> files() {
    return files;
  }

  /** The CPU architecture ({@code /proc/cpuinfo}, the IOMMU's kind, the kernel options). */
  public CpuArchitecture architecture() {
    return architecture;
  }

  /**
   * The NUMA nodes written to {@code /sys/devices/system/node}, sorted by id; empty for the
   * presets that do not model them (their devices' {@code numa_node} is all there is).
   */
  public List<NumaNodeSpec> numaNodes() {
    return numaNodes;
  }

  /**
   * Platform devices (not PCI functions) that are IOMMU group members, by name
   * ({@code /sys/devices/platform/<name>}) to group number: on Arm an SMMU-attached controller can
   * share a group with PCI functions.
   */
  public SortedMap<String, Integer> platformDevices() {
    return platformDevices;
  }

  /** Whether the IOMMU is on (the devices have IOMMU groups). */
  public boolean iommuEnabled() {
    return devices.stream().anyMatch(d -> d.iommuGroup().isPresent());
  }

  /** The GPU module ids (Fabric Manager physical ids) of the GPUs that have one. */
  public ModuleIdMap moduleIds() {
    Map<Integer, PciAddress> map = new TreeMap<>();
    devices.stream().filter(d -> d.moduleId().isPresent())
        .forEach(d -> map.put(d.moduleId().getAsInt(), d.address()));
    return new ModuleIdMap(map);
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof HostProfile)) {
      return false;
    }
    HostProfile p = (HostProfile) o;
    return name.equals(p.name) && devices.equals(p.devices) && cmdline.equals(p.cmdline)
        && drivers.equals(p.drivers) && modules.equals(p.modules)
        && fabricMode.equals(p.fabricMode) && files.equals(p.files)
        && architecture == p.architecture && numaNodes.equals(p.numaNodes)
        && platformDevices.equals(p.platformDevices);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, devices, cmdline, drivers, modules, fabricMode, files,
        architecture, numaNodes, platformDevices);
  }

  @Override
  public String toString() {
    return "HostProfile[" + name + ", " + devices.size() + " devices, " + gpus().size() + " GPUs, "
        + (iommuEnabled() ? "IOMMU on" : "IOMMU off") + "]";
  }

  /** Builds {@link HostProfile} values; {@link #build()} validates and names the bad value. */
  public static final class Builder {
    private String name = "custom";
    private final Map<PciAddress, DeviceSpec> devices = new HashMap<>();
    private String cmdline = "";
    private final Set<String> drivers = new TreeSet<>();
    private final Set<String> modules = new TreeSet<>();
    private OptionalInt fabricMode = OptionalInt.empty();
    private final Map<String, String> files = new TreeMap<>();
    private CpuArchitecture architecture = CpuArchitecture.X86_64;
    private final Map<Integer, NumaNodeSpec> numaNodes = new TreeMap<>();
    private final Map<String, Integer> platformDevices = new TreeMap<>();

    private Builder() {}

    /** The CPU architecture (default x86_64). */
    public Builder architecture(CpuArchitecture value) {
      this.architecture = Objects.requireNonNull(value, "architecture");
      return this;
    }

    /** Adds a NUMA node, or replaces the one with its id. */
    public Builder numaNode(NumaNodeSpec value) {
      Objects.requireNonNull(value, "NUMA node");
      numaNodes.put(value.id(), value);
      return this;
    }

    /**
     * Adds a platform device ({@code /sys/devices/platform/<name>}) as a member of IOMMU group
     * {@code group}: letters, digits, {@code : . _ -}, and not named like a PCI address.
     */
    public Builder platformDevice(String deviceName, int group) {
      if (deviceName == null || !deviceName.matches("[A-Za-z0-9][A-Za-z0-9:._-]{0,63}")
          || deviceName.matches("[0-9a-fA-F]{1,8}:[0-9a-fA-F]{1,2}:[0-9a-fA-F]{1,2}\\..*")) {
        throw new InvalidValueException("platform device name '" + deviceName + "' must be 1-64"
            + " letters, digits or ':._-' and not a PCI address");
      }
      if (group < 0) {
        throw new InvalidValueException("IOMMU group of platform device " + deviceName
            + " must be 0 or more, was " + group);
      }
      platformDevices.put(deviceName, group);
      return this;
    }

    /** The name: lower-case letters, digits and '-'. */
    public Builder name(String value) {
      if (value == null || !value.matches("[a-z0-9][a-z0-9-]{0,63}")) {
        throw new InvalidValueException("profile name '" + value
            + "' must be 1-64 lower-case letters, digits or '-'");
      }
      this.name = value;
      return this;
    }

    /** Adds a device, or replaces the one at its address. */
    public Builder device(DeviceSpec value) {
      Objects.requireNonNull(value, "device");
      devices.put(value.address(), value);
      return this;
    }

    /** Removes the device at {@code address} (its children must go too, or build() refuses). */
    public Builder removeDevice(PciAddress address) {
      if (devices.remove(address) == null) {
        throw new InvalidValueException("no device " + address + " in profile " + name);
      }
      return this;
    }

    /** The kernel command line. */
    public Builder cmdline(String value) {
      if (value == null || value.contains("\n")) {
        throw new InvalidValueException("kernel command line must be one line, was '" + value
            + "'");
      }
      this.cmdline = value.strip();
      return this;
    }

    /** Loads a driver: its {@code drivers/} directory and (unless built in) its module. */
    public Builder loadDriver(String driver) {
      DeviceSpec.checkDriverName("profile " + name, driver);
      drivers.add(driver);
      if (!BUILT_IN_DRIVERS.contains(driver)) {
        modules.add(moduleName(driver));
      }
      return this;
    }

    /** Unloads a driver: removes its {@code drivers/} directory and module. */
    public Builder unloadDriver(String driver) {
      drivers.remove(driver);
      String module = moduleName(driver);
      if (drivers.stream().noneMatch(d -> moduleName(d).equals(module))) {
        modules.remove(module);
      }
      return this;
    }

    /** Marks a kernel module as loaded ({@code /sys/module/<name>}), without a PCI driver. */
    public Builder loadModule(String module) {
      if (module == null || !module.matches("[A-Za-z0-9_]{1,64}")) {
        throw new InvalidValueException("module name '" + module
            + "' must be 1-64 letters, digits or '_'");
      }
      modules.add(module);
      return this;
    }

    /** Fabric Manager installed with this {@code FABRIC_MODE} (0, 1 or 2). */
    public Builder fabricMode(int mode) {
      if (mode < 0 || mode > 2) {
        throw new InvalidValueException("FABRIC_MODE must be 0, 1 or 2, was " + mode);
      }
      this.fabricMode = OptionalInt.of(mode);
      return this;
    }

    /** No Fabric Manager ({@code fabricmanager.cfg} absent). */
    public Builder noFabricManager() {
      this.fabricMode = OptionalInt.empty();
      return this;
    }

    /** An extra host file outside {@code /sys} and {@code /proc}, such as {@code /etc/modprobe.d/x.conf}. */
    public Builder file(String hostPath, String content) {
      HostPaths.check(hostPath);
      Objects.requireNonNull(content, "content of " + hostPath);
      if (hostPath.equals("/") || hostPath.startsWith("/sys/") || hostPath.startsWith("/proc/")
          || hostPath.startsWith("/dev/") || hostPath.endsWith("/") || hostPath.startsWith("/.")) {
        throw new InvalidValueException("extra file " + hostPath
            + " must be a file outside /sys, /proc and /dev; those are written from the devices");
      }
      files.put(hostPath, content);
      return this;
    }

    /**
     * The same hardware booted with the IOMMU off: IOMMU groups dropped from every device and
     * {@code intel_iommu=on}/{@code amd_iommu=on}/{@code iommu=pt}/{@code iommu.passthrough=1}
     * dropped from the command line, platform group members dropped.
     */
    public Builder withoutIommu() {
      devices.replaceAll((a, d) -> d.toBuilder().noIommuGroup().build());
      platformDevices.clear();
      StringBuilder sb = new StringBuilder();
      for (String token : cmdline.split(" +")) {
        if (!token.isEmpty() && !token.equals("intel_iommu=on") && !token.equals("amd_iommu=on")
            && !token.equals("iommu=pt") && !token.equals("iommu.passthrough=1")) {
          sb.append(sb.length() == 0 ? "" : " ").append(token);
        }
      }
      cmdline = sb.toString();
      return this;
    }

    /**
     * Builds the profile.
     *
     * @throws InvalidValueException naming the device and the rule it breaks
     */
    public HostProfile build() {
      HostProfile p = new HostProfile(this);
      ProfileRules.check(p);
      return p;
    }
  }

  /**
   * The module that provides a driver: {@code vfio-pci} comes from {@code vfio_pci};
   * {@code nvidia-nvswitch} is registered by {@code nvidia}.
   */
  static String moduleName(String driver) {
    return driver.equals("nvidia-nvswitch") ? "nvidia" : driver.replace('-', '_');
  }
}
