package io.gpuvirt.testkit;

import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The preset hosts. Facts (ids, BDFs, BAR sizes, depth, NUMA split, module ids) follow
 * {@code reference/SYSFS.md} §9-11; ids of chipset parts, subsystem ids and BAR addresses other
 * than the first B200 GPU's are illustrative.
 */
final class Presets {
  static final PciId XEON_HOST = new PciId(0x8086, 0x09a2);
  static final PciId XEON_ROOT_PORT = new PciId(0x8086, 0x352a);
  static final PciId PEX890XX = new PciId(0x1000, 0xc030);
  static final PciId PEX880XX = new PciId(0x1000, 0xc010);
  static final PciId B200 = new PciId(0x10de, 0x2901);
  static final PciId GB200 = new PciId(0x10de, 0x2941);
  /** The Grace CPU's PCIe root port (inferred: the id lspci shows on GH200 hosts). */
  static final PciId GRACE_ROOT_PORT = new PciId(0x10de, 0x22b2);
  static final PciId H100_SXM5 = new PciId(0x10de, 0x2330);
  static final PciId H100_PCIE = new PciId(0x10de, 0x2331);
  static final PciId H200_SXM = new PciId(0x10de, 0x2335);
  static final PciId H100_NVSWITCH = new PciId(0x10de, 0x22a3);
  static final PciId CONNECTX7 = new PciId(0x15b3, 0x1021);
  static final PciId CONNECTX6DX = new PciId(0x15b3, 0x101d);
  static final int MLX5_VF = 0x101e;
  static final PciId PM9A3 = new PciId(0x144d, 0xa80a);
  static final PciId AST1150 = new PciId(0x1a03, 0x1150);
  static final PciId ASPEED_VGA = new PciId(0x1a03, 0x2000);

  static final PciClass HOST_BRIDGE = new PciClass(0x060000);
  static final PciClass SYSTEM_PERIPHERAL = new PciClass(0x088000);
  static final PciClass PCI_BRIDGE = new PciClass(0x060400);
  static final PciClass DISPLAY_3D = new PciClass(0x030200);
  static final PciClass VGA = new PciClass(0x030000);
  static final PciClass AUDIO = new PciClass(0x040300);
  static final PciClass INFINIBAND = new PciClass(0x020700);
  static final PciClass ETHERNET = new PciClass(0x020000);
  static final PciClass NVME = new PciClass(0x010802);
  static final PciClass NVSWITCH = new PciClass(0x068000);

  static final String B200_CMDLINE = "BOOT_IMAGE=/boot/vmlinuz-6.8.0-60-generic "
      + "root=UUID=6a1f3c2e-9b1d-4f0e-8a57-2c41d7e9b0aa ro intel_iommu=on iommu=pt";

  static final long K = 1L << 10;
  static final long M = 1L << 20;
  static final long G = 1L << 30;

  private Presets() {}

  static PciAddress a(int bus, int dev, int fn) {
    return new PciAddress(0, bus, dev, fn);
  }

  static Bar pref64(int index, long start, long size) {
    return new Bar(index, start, size, true, true, false);
  }

  static Bar mem64(int index, long start, long size) {
    return new Bar(index, start, size, true, false, false);
  }

  static Bar mem32(int index, long start, long size) {
    return new Bar(index, start, size, false, false, false);
  }

  static Bar io(int index, long start, long size) {
    return new Bar(index, start, size, false, false, true);
  }

  static DeviceSpec.Builder bridge(PciAddress at, PciAddress parent, PciId id, PciePortType type,
      int secondary, int subordinate, int numa) {
    return DeviceSpec.builder(at).parent(parent).id(id).subsystem(id).pciClass(PCI_BRIDGE)
        .busRange(new BusRange(secondary, subordinate)).portType(type).numaNode(numa)
        .driver("pcieport").acs(type != PciePortType.SWITCH_UPSTREAM);
  }

  static DeviceSpec.Builder xeonHostBridge(int numa) {
    return DeviceSpec.builder(a(0, 0, 0)).id(XEON_HOST).subsystem(XEON_HOST)
        .pciClass(SYSTEM_PERIPHERAL).portType(PciePortType.ROOT_COMPLEX_INTEGRATED_ENDPOINT)
        .numaNode(numa);
  }

  static DeviceSpec.Builder nvme(PciAddress at, PciAddress parent, long bar0, int numa) {
    return DeviceSpec.builder(at).parent(parent).id(PM9A3).subsystem(new PciId(0x144d, 0xa812))
        .pciClass(NVME).addBar(mem64(0, bar0, 16 * K)).numaNode(numa).driver("nvme")
        .resettable(true);
  }

  /**
   * The BMC's display: a root port, the ASPEED AST1150 PCIe-to-PCI bridge on its secondary bus and
   * the ASPEED VGA 1a03:2000 (class 0x0300, driver {@code ast}) behind it, as on HGX baseboard
   * hosts. Returns the set of the bridge and the VGA, which share a group (conventional PCI below
   * the bridge has no ACS).
   */
  static Set<PciAddress> bmcVga(List<DeviceSpec.Builder> list, PciAddress rootPort, int bus,
      long bar0) {
    PciAddress bridge = a(bus, 0, 0);
    PciAddress vga = a(bus + 1, 0, 0);
    list.add(Presets.bridge(rootPort, null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, bus, bus + 1,
        0));
    list.add(Presets.bridge(bridge, rootPort, AST1150, PciePortType.PCIE_TO_PCI_BRIDGE, bus + 1,
        bus + 1, 0).revision(0x06).acs(false));
    list.add(DeviceSpec.builder(vga).parent(bridge).id(ASPEED_VGA)
        .subsystem(new PciId(0x1a03, 0x2000)).pciClass(VGA).revision(0x52)
        .addBar(mem32(0, bar0, 64 * M)).addBar(mem32(1, bar0 + 64 * M, 256 * K))
        .numaNode(0).driver("ast").portType(null));
    return Set.of(bridge, vga);
  }

  /**
   * Numbers IOMMU groups in address order from {@code first}: a group per device, except that the
   * devices of one {@code shared} set share a group.
   */
  static List<DeviceSpec> numberGroups(List<DeviceSpec.Builder> builders, List<Set<PciAddress>> shared,
      int first) {
    List<DeviceSpec> devices = new ArrayList<>(builders.stream().map(DeviceSpec.Builder::build)
        .toList());
    devices.sort((x, y) -> x.address().compareTo(y.address()));
    Map<Set<PciAddress>, Integer> sharedNumbers = new HashMap<>();
    int next = first;
    List<DeviceSpec> out = new ArrayList<>();
    for (DeviceSpec d : devices) {
      Optional<Set<PciAddress>> set = shared.stream().filter(s -> s.contains(d.address()))
          .findFirst();
      int number;
      if (set.isPresent() && sharedNumbers.containsKey(set.get())) {
        number = sharedNumbers.get(set.get());
      } else {
        number = next++;
        set.ifPresent(s -> sharedNumbers.put(s, number));
      }
      out.add(d.toBuilder().iommuGroup(number).build());
    }
    return out;
  }

  static HostProfile.Builder withDevices(HostProfile.Builder b, List<DeviceSpec> devices) {
    devices.forEach(b::device);
    return b;
  }

  /** SYSFS.md §11.1, and the B200 contract of the helper brief. */
  static HostProfile hgxB200() {
    return hgxB200(false);
  }

  /**
   * The HGX B200 in vGPU-based multitenancy ({@code FABRIC_MODE=2}): the same board, its GPUs on
   * the {@code nvidia} vGPU host driver with 16 SR-IOV VFs each (offset 4, stride 1, 64 MiB VF
   * BARs) that {@code sriov-manage -e} enables, and the B200X types of {@code
   * VgpuTypeCatalogue.b200x()}. The VF count, offsets and BAR size are inferred (the reference has
   * no B200 SR-IOV capture), as are the type table and Fabric Manager's vGPU-mode rules.
   */
  static HostProfile hgxB200Vgpu() {
    return hgxB200(true);
  }

  private static HostProfile hgxB200(boolean vgpu) {
    int[] gpuBuses = {0x17, 0x3d, 0x60, 0x70, 0x98, 0xbb, 0xdd, 0xed};
    int[] moduleIds = {1, 4, 2, 3, 7, 5, 8, 6};
    List<DeviceSpec.Builder> list = new ArrayList<>();
    list.add(xeonHostBridge(0));
    // The NVLink-management ConnectX-7 bridge: 4 PFs (2 ports x {FC PF, LPF}) at 05:00.0-3.
    list.add(bridge(a(0, 2, 0), null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, 0x05, 0x05, 0));
    for (int fn = 0; fn < 4; fn++) {
      list.add(DeviceSpec.builder(a(0x05, 0, fn)).parent(a(0, 2, 0)).id(CONNECTX7)
          .subsystem(new PciId(0x15b3, 0x0051)).pciClass(INFINIBAND)
          .addBar(pref64(0, 0x1f00_0000_0000L + fn * 0x0200_0000L, 32 * M)).numaNode(0)
          .driver("mlx5_core").resettable(true));
    }
    list.add(bridge(a(0, 3, 0), null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, 0x06, 0x06, 0));
    list.add(nvme(a(0x06, 0, 0), a(0, 3, 0), 0x9000_0000L, 0));
    list.add(bridge(a(0, 4, 0), null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, 0x07, 0x07, 0));
    list.add(nvme(a(0x07, 0, 0), a(0, 4, 0), 0x9010_0000L, 0));
    Set<PciAddress> bmc = bmcVga(list, a(0, 5, 0), 0x08, 0x9400_0000L);
    for (int k = 0; k < gpuBuses.length; k++) {
      int g = gpuBuses[k];
      int numa = k < 4 ? 0 : 1;
      long block = 0x2200_0000_0000L + k * 0x0100_0000_0000L;
      PciAddress rootPort = a(g - 3, 2, 0);
      PciAddress upstream = a(g - 2, 0, 0);
      PciAddress gpuPort = a(g - 1, 0, 0);
      PciAddress nicPort = a(g - 1, 1, 0);
      list.add(bridge(rootPort, null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, g - 2, g + 3, numa));
      list.add(bridge(upstream, rootPort, PEX890XX, PciePortType.SWITCH_UPSTREAM, g - 1, g + 3,
          numa).subsystem(new PciId(0x1000, 0x0088)));
      list.add(bridge(gpuPort, upstream, PEX890XX, PciePortType.SWITCH_DOWNSTREAM, g, g, numa)
          .subsystem(new PciId(0x1000, 0x0088)));
      list.add(bridge(nicPort, upstream, PEX890XX, PciePortType.SWITCH_DOWNSTREAM, g + 1, g + 1,
          numa).subsystem(new PciId(0x1000, 0x0088)));
      DeviceSpec.Builder gpu = GpuModel.B200.device(a(g, 0, 0), GpuModel.B200.bars(block, 0))
          .parent(gpuPort).numaNode(numa).driver("nvidia").moduleId(moduleIds[k])
          .resettable(true).label("#GPU" + k);
      if (vgpu) {
        gpu.sriov(new DeviceSpec.SriovSpec(16, B200.device(), 4, 1,
            pref64(0, block + 0x0040_0000_0000L, 64 * M), 0, Optional.of("nvidia")));
      }
      list.add(gpu);
      list.add(DeviceSpec.builder(a(g + 1, 0, 0)).parent(nicPort).id(CONNECTX7)
          .subsystem(new PciId(0x15b3, 0x0026)).pciClass(INFINIBAND)
          .addBar(pref64(0, block + 0x0080_4800_0000L, 32 * M)).numaNode(numa)
          .driver("mlx5_core").resettable(true)
          .sriov(new DeviceSpec.SriovSpec(8, MLX5_VF, 1, 1,
              pref64(0, block + 0x0080_4a00_0000L, M), 0, Optional.of("mlx5_core"))));
    }
    HostProfile.Builder b = HostProfile.builder().name(vgpu ? "hgx-b200-vgpu" : "hgx-b200")
        .cmdline(B200_CMDLINE).fabricMode(vgpu ? 2 : 1);
    for (String driver : List.of("nvidia", "vfio-pci", "pcieport", "mlx5_core", "nvme", "ast")) {
      b.loadDriver(driver);
    }
    for (String module : List.of("vfio", "vfio_iommu_type1", "vfio_pci_core", "nvidia_uvm",
        "nvidia_modeset", "mlx5_ib")) {
      b.loadModule(module);
    }
    return withDevices(b, numberGroups(list, List.of(bmc), 0)).build();
  }

  /**
   * SYSFS.md §11.2 (FM guide BDFs) and §10 (BAR sizes); a ConnectX-7 on a second downstream port of
   * every GPU's switch (HGX H100 boards pair a NIC with each GPU); the BMC's VGA. With
   * {@code sharedPairs}, GPUs 1 and 5 (with their NICs) sit on the switch of GPUs 0 and 4, whose
   * GPU downstream ports lack ACS, so each GPU pair (with its two ports) is one IOMMU group; the
   * NIC ports keep ACS.
   */
  static HostProfile hgxH100(boolean nvSwitchGroupEach, boolean sharedPairs) {
    int[] gpuBuses = {0x1b, 0x43, 0x52, 0x61, 0x9d, 0xc3, 0xd1, 0xdf};
    int[] moduleIds = {3, 1, 4, 2, 7, 5, 8, 6};
    List<DeviceSpec.Builder> list = new ArrayList<>();
    list.add(xeonHostBridge(0));
    // NVSwitches 07-0a:00.0 behind one PCIe switch.
    PciAddress swRoot = a(0, 1, 0);
    PciAddress swUp = a(0x03, 0, 0);
    list.add(bridge(swRoot, null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, 0x03, 0x0a, 0));
    list.add(bridge(swUp, swRoot, PEX890XX, PciePortType.SWITCH_UPSTREAM, 0x04, 0x0a, 0));
    Set<PciAddress> nvSwitchGroup = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      PciAddress port = a(0x04, i, 0);
      PciAddress nvSwitch = a(0x07 + i, 0, 0);
      list.add(bridge(port, swUp, PEX890XX, PciePortType.SWITCH_DOWNSTREAM, 0x07 + i, 0x07 + i, 0)
          .acs(nvSwitchGroupEach));
      list.add(DeviceSpec.builder(nvSwitch).parent(port).id(H100_NVSWITCH)
          .subsystem(new PciId(0x10de, 0x1796)).pciClass(NVSWITCH).revision(0xa1)
          .addBar(mem32(0, 0xa000_0000L + i * 0x0200_0000L, 32 * M)).numaNode(0)
          .driver("nvidia-nvswitch").resettable(true));
      nvSwitchGroup.add(port);
      nvSwitchGroup.add(nvSwitch);
    }
    list.add(bridge(a(0, 2, 0), null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, 0x0b, 0x0b, 0));
    list.add(nvme(a(0x0b, 0, 0), a(0, 2, 0), 0x9000_0000L, 0));
    List<Set<PciAddress>> shared = new ArrayList<>();
    if (!nvSwitchGroupEach) {
      shared.add(nvSwitchGroup);
    }
    shared.add(bmcVga(list, a(0, 3, 0), 0x0c, 0x9400_0000L));
    if (sharedPairs) {
      // GPU 1 and 5 move onto the switch of GPU 0 and 4 (buses 1d and 9f).
      gpuBuses = new int[] {0x1b, 0x1d, 0x52, 0x61, 0x9d, 0x9f, 0xd1, 0xdf};
    }
    for (int k = 0; k < gpuBuses.length; k++) {
      int g = gpuBuses[k];
      int numa = k < 4 ? 0 : 1;
      long block = 0x0840_0000_0000L + k * 0x0040_0000_0000L;
      boolean leader = sharedPairs && k % 4 == 0;
      boolean follower = sharedPairs && k % 4 == 1;
      // A follower sits on downstream ports 2 and 3 of its leader's switch.
      int switchBus = follower ? g - 3 : g - 1;
      int portDev = follower ? 2 : 0;
      PciAddress upstream = a(switchBus - 1, 0, 0);
      if (!follower) {
        int last = leader ? g + 3 : g + 1;
        PciAddress rootPort = a(g - 3, 1, 0);
        list.add(bridge(rootPort, null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, g - 2, last,
            numa));
        list.add(bridge(upstream, rootPort, PEX890XX, PciePortType.SWITCH_UPSTREAM, g - 1, last,
            numa));
      }
      PciAddress port = a(switchBus, portDev, 0);
      PciAddress nicPort = a(switchBus, portDev + 1, 0);
      boolean isolated = !leader && !follower;
      list.add(bridge(port, upstream, PEX890XX, PciePortType.SWITCH_DOWNSTREAM, g, g, numa)
          .acs(isolated));
      list.add(bridge(nicPort, upstream, PEX890XX, PciePortType.SWITCH_DOWNSTREAM, g + 1, g + 1,
          numa));
      list.add(GpuModel.H100_SXM5.device(a(g, 0, 0), GpuModel.H100_SXM5.bars(block, 0))
          .parent(port).numaNode(numa).driver("nvidia").moduleId(moduleIds[k]).resettable(true)
          .label("#GPU" + k));
      list.add(DeviceSpec.builder(a(g + 1, 0, 0)).parent(nicPort).id(CONNECTX7)
          .subsystem(new PciId(0x15b3, 0x0026)).pciClass(INFINIBAND)
          .addBar(pref64(0, block + 0x0030_0000_0000L, 32 * M)).numaNode(numa)
          .driver("mlx5_core").resettable(true));
      if (leader) {
        // The two GPU ports lack ACS: both GPUs and their ports are one group. The NIC ports
        // keep ACS, so each NIC stays alone.
        shared.add(Set.of(port, a(g, 0, 0), a(g - 1, 2, 0), a(g + 2, 0, 0)));
      }
    }
    HostProfile.Builder b = HostProfile.builder()
        .name(sharedPairs ? "hgx-h100-shared-groups" : "hgx-h100").cmdline(B200_CMDLINE)
        .fabricMode(0);
    for (String driver : List.of("nvidia", "nvidia-nvswitch", "vfio-pci", "pcieport", "nvme",
        "mlx5_core", "ast")) {
      b.loadDriver(driver);
    }
    for (String module : List.of("vfio", "vfio_iommu_type1", "vfio_pci_core", "nvidia_uvm")) {
      b.loadModule(module);
    }
    return withDevices(b, numberGroups(list, shared, 0)).build();
  }

  /** SYSFS.md §11.3: a consumer GPU with its HDMI audio function, one group with the root port. */
  static HostProfile workstation() {
    List<DeviceSpec.Builder> list = new ArrayList<>();
    PciId hostId = new PciId(0x8086, 0x4660);
    list.add(DeviceSpec.builder(a(0, 0, 0)).id(hostId).subsystem(hostId).pciClass(HOST_BRIDGE)
        .portType(null));
    PciAddress peg = a(0, 1, 0);
    list.add(bridge(peg, null, new PciId(0x8086, 0x460d), PciePortType.ROOT_PORT, 0x01, 0x01, -1)
        .acs(false));
    list.add(GpuModel.RTX4000_ADA.device(a(0x01, 0, 0),
            GpuModel.RTX4000_ADA.bars(0x40_0000_0000L, 0x8200_0000L)).parent(peg)
        .driver("nvidia").resettable(true));
    list.add(DeviceSpec.builder(a(0x01, 0, 1)).parent(peg).id(new PciId(0x10de, 0x22bc))
        .subsystem(new PciId(0x10de, 0x16fa)).pciClass(AUDIO).revision(0xa1)
        .addBar(mem32(0, 0x8300_0000L, 16 * K)).driver("snd_hda_intel"));
    PciAddress nvmePort = a(0, 0x1c, 0);
    PciAddress nicPort = a(0, 0x1c, 4);
    list.add(bridge(nvmePort, null, new PciId(0x8086, 0x7ab8), PciePortType.ROOT_PORT, 0x02, 0x02,
        -1));
    // The system disk: the EFI partition and / (the cmdline's root=/dev/nvme0n1p2) on it.
    list.add(nvme(a(0x02, 0, 0), nvmePort, 0x8400_0000L, -1)
        .mount("nvme0n1", 1, "/boot/efi", "vfat").mount("nvme0n1", 2, "/", "ext4"));
    list.add(bridge(nicPort, null, new PciId(0x8086, 0x7abc), PciePortType.ROOT_PORT, 0x03, 0x03,
        -1));
    list.add(DeviceSpec.builder(a(0x03, 0, 0)).parent(nicPort).id(new PciId(0x8086, 0x125c))
        .subsystem(new PciId(0x8086, 0x0000)).pciClass(ETHERNET).revision(0x04)
        .addBar(mem32(0, 0x8500_0000L, M)).addBar(mem32(3, 0x8510_0000L, 16 * K))
        .driver("igc").resettable(true));
    HostProfile.Builder b = HostProfile.builder().name("workstation")
        .cmdline("BOOT_IMAGE=/boot/vmlinuz-6.8.0-60-generic root=/dev/nvme0n1p2 ro quiet splash "
            + "intel_iommu=on iommu=pt");
    for (String driver : List.of("nvidia", "snd_hda_intel", "vfio-pci", "pcieport", "nvme",
        "igc")) {
      b.loadDriver(driver);
    }
    for (String module : List.of("vfio", "vfio_iommu_type1", "vfio_pci_core")) {
      b.loadModule(module);
    }
    Set<PciAddress> gpuGroup = Set.of(peg, a(0x01, 0, 0), a(0x01, 0, 1));
    return withDevices(b, numberGroups(list, List.of(gpuGroup), 0)).build();
  }

  /** A GPU and an unrelated NIC behind a switch whose downstream ports lack ACS. */
  static HostProfile noAcs() {
    List<DeviceSpec.Builder> list = new ArrayList<>();
    list.add(xeonHostBridge(0));
    PciAddress rootPort = a(0, 1, 0);
    PciAddress upstream = a(0x01, 0, 0);
    PciAddress gpuPort = a(0x02, 0, 0);
    PciAddress nicPort = a(0x02, 1, 0);
    list.add(bridge(rootPort, null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, 0x01, 0x04, 0));
    list.add(bridge(upstream, rootPort, PEX880XX, PciePortType.SWITCH_UPSTREAM, 0x02, 0x04, 0));
    list.add(bridge(gpuPort, upstream, PEX880XX, PciePortType.SWITCH_DOWNSTREAM, 0x03, 0x03, 0)
        .acs(false));
    list.add(bridge(nicPort, upstream, PEX880XX, PciePortType.SWITCH_DOWNSTREAM, 0x04, 0x04, 0)
        .acs(false));
    list.add(GpuModel.H100_PCIE.device(a(0x03, 0, 0), GpuModel.H100_PCIE.bars(0x20_0000_0000L, 0))
        .parent(gpuPort).numaNode(0).driver("nvidia").resettable(true));
    list.add(DeviceSpec.builder(a(0x04, 0, 0)).parent(nicPort).id(CONNECTX6DX)
        .subsystem(new PciId(0x15b3, 0x0016)).pciClass(ETHERNET)
        .addBar(pref64(0, 0x40_0400_0000L, 32 * M)).numaNode(0).driver("mlx5_core")
        .resettable(true));
    list.add(bridge(a(0, 2, 0), null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, 0x05, 0x05, 0));
    list.add(nvme(a(0x05, 0, 0), a(0, 2, 0), 0x9100_0000L, 0));
    HostProfile.Builder b = HostProfile.builder().name("no-acs").cmdline(B200_CMDLINE);
    for (String driver : List.of("nvidia", "vfio-pci", "pcieport", "mlx5_core", "nvme")) {
      b.loadDriver(driver);
    }
    for (String module : List.of("vfio", "vfio_iommu_type1", "vfio_pci_core")) {
      b.loadModule(module);
    }
    Set<PciAddress> switchGroup = Set.of(gpuPort, nicPort, a(0x03, 0, 0), a(0x04, 0, 0));
    return withDevices(b, numberGroups(list, List.of(switchGroup), 0)).build();
  }

  /**
   * A host whose VMD (Intel Volume Management Device) controller owns PCI domain {@code 10000}: the
   * controller 8086:28c0 at {@code 0000:00:0e.0} (driver {@code vmd}) and, behind it in the
   * 5-digit domain, a root port with an H100 PCIe at {@code 10000:01:00.0} and one with an NVMe at
   * {@code 10000:02:00.0}. The domain's root bus is a directory {@code pci10000:00} of its own.
   */
  static HostProfile vmd() {
    List<DeviceSpec.Builder> list = new ArrayList<>();
    list.add(xeonHostBridge(0));
    PciId vmdId = new PciId(0x8086, 0x28c0);
    list.add(DeviceSpec.builder(a(0, 0x0e, 0)).id(vmdId).subsystem(new PciId(0x8086, 0x0000))
        .pciClass(new PciClass(0x010400)).portType(PciePortType.ROOT_COMPLEX_INTEGRATED_ENDPOINT)
        .addBar(mem64(0, 0x2000_0000_0000L, 32 * M)).addBar(mem32(2, 0xa000_0000L, 32 * M))
        .addBar(mem64(4, 0x2000_1000_0000L, M)).numaNode(0).driver("vmd"));
    PciAddress gpuPort = new PciAddress(0x10000, 0, 1, 0);
    PciAddress nvmePort = new PciAddress(0x10000, 0, 2, 0);
    PciId vmdRootPort = new PciId(0x8086, 0x347a);
    list.add(bridge(gpuPort, null, vmdRootPort, PciePortType.ROOT_PORT, 0x01, 0x01, 0));
    list.add(GpuModel.H100_PCIE.device(new PciAddress(0x10000, 1, 0, 0),
            GpuModel.H100_PCIE.bars(0x40_0000_0000L, 0)).parent(gpuPort).numaNode(0)
        .driver("nvidia").resettable(true));
    list.add(bridge(nvmePort, null, vmdRootPort, PciePortType.ROOT_PORT, 0x02, 0x02, 0));
    list.add(nvme(new PciAddress(0x10000, 2, 0, 0), nvmePort, 0xa400_0000L, 0));
    HostProfile.Builder b = HostProfile.builder().name("vmd").cmdline(B200_CMDLINE);
    for (String driver : List.of("nvidia", "vfio-pci", "pcieport", "nvme", "vmd")) {
      b.loadDriver(driver);
    }
    for (String module : List.of("vfio", "vfio_iommu_type1", "vfio_pci_core")) {
      b.loadModule(module);
    }
    return withDevices(b, numberGroups(list, List.of(), 0)).build();
  }

  static final PciId L40S = new PciId(0x10de, 0x26b9);

  /**
   * A PCIe vGPU host: two L40S GPUs at {@code 3d:00.0} (NUMA 0) and {@code bd:00.0} (NUMA 1), each
   * alone behind a root port, on the {@code nvidia} (vGPU host) driver, with 32 SR-IOV VFs each at
   * offset 4, stride 1 (VGPU_MIG.md §1: the A10's {@code 41:00.4 .. 41:04.3}; harvester's L40S VF
   * {@code 3d:00.4}), none enabled at boot: {@code sriov-manage -e} enables them.
   */
  static HostProfile l40sVgpu() {
    List<DeviceSpec.Builder> list = new ArrayList<>();
    list.add(xeonHostBridge(0));
    int[] buses = {0x3d, 0xbd};
    for (int k = 0; k < buses.length; k++) {
      int bus = buses[k];
      PciAddress port = a(0, 1 + 2 * k, 0);
      long block = 0x0100_0000_0000L * (k + 1);
      list.add(bridge(port, null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, bus, bus, k));
      list.add(GpuModel.L40S.device(a(bus, 0, 0),
              GpuModel.L40S.bars(block, 0x9000_0000L + k * 0x0400_0000L)).parent(port)
          .numaNode(k).driver("nvidia").resettable(true)
          .sriov(new DeviceSpec.SriovSpec(32, L40S.device(), 4, 1,
              pref64(0, block + 0x0020_0000_0000L, 64 * M), 0, Optional.of("nvidia"))));
    }
    return sriovVgpuHost("l40s-vgpu", list);
  }

  /**
   * A host of SR-IOV vGPU GPUs: an Ubuntu 24.04 kernel (6.8, the vendor-specific vGPU interface)
   * with the IOMMU on in pass-through mode, the nvidia vGPU host driver, vfio-pci and the port
   * driver loaded.
   */
  private static HostProfile sriovVgpuHost(String name, List<DeviceSpec.Builder> devices) {
    HostProfile.Builder b = HostProfile.builder().name(name)
        .cmdline("BOOT_IMAGE=/boot/vmlinuz-6.8.0-60-generic root=/dev/sda2 ro intel_iommu=on "
            + "iommu=pt");
    for (String driver : List.of("nvidia", "vfio-pci", "pcieport")) {
      b.loadDriver(driver);
    }
    for (String module : List.of("vfio", "vfio_iommu_type1", "vfio_pci_core")) {
      b.loadModule(module);
    }
    return withDevices(b, numberGroups(devices, List.of(), 0)).build();
  }

  /**
   * A vGPU host with MIG-capable GPUs and no NVSwitch: an HGX H200 4-GPU board (NVLink between
   * the GPUs directly; NVIDIA lists only the 8-GPU HGX boards as NVSwitch systems, VGPU_MIG.md
   * §2), four H200 SXM (10de:2335) at {@code 18:00.0}, {@code 2a:00.0} (NUMA 0), {@code 9a:00.0},
   * {@code ab:00.0} (NUMA 1), each behind its own root port, on the {@code nvidia} vGPU host
   * driver with 16 SR-IOV VFs (offset 4, stride 1) that {@code sriov-manage -e} enables. The
   * buses, the VF count and the flat root-port layout are inferred; the vGPU types are
   * {@code VgpuTypeCatalogue.h200x()} (time-sliced H200X-141C, MIG-backed H200X-1-18C).
   */
  static HostProfile h200Vgpu() {
    List<DeviceSpec.Builder> list = new ArrayList<>();
    list.add(xeonHostBridge(0));
    int[] buses = {0x18, 0x2a, 0x9a, 0xab};
    for (int k = 0; k < buses.length; k++) {
      int bus = buses[k];
      PciAddress port = a(0, 1 + 2 * k, 0);
      long block = 0x0100_0000_0000L * (k + 1);
      list.add(bridge(port, null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, bus, bus, k / 2));
      list.add(GpuModel.H200_SXM.device(a(bus, 0, 0), GpuModel.H200_SXM.bars(block, 0))
          .parent(port).numaNode(k / 2).driver("nvidia").resettable(true)
          .sriov(new DeviceSpec.SriovSpec(16, H200_SXM.device(), 4, 1,
              pref64(0, block + 0x0040_0000_0000L, 64 * M), 0, Optional.of("nvidia"))));
    }
    return sriovVgpuHost("h200-vgpu", list);
  }

  /**
   * An older vGPU host with legacy mediated devices: two Tesla T4 GPUs (Turing, no SR-IOV) at
   * {@code 3b:00.0} (NUMA 0) and {@code af:00.0} (NUMA 1), each behind its own root port, on the
   * {@code nvidia} vGPU host driver of a 5.15 kernel, which offers
   * {@code /sys/class/mdev_bus/<PF>/mdev_supported_types/nvidia-<id>} (the ids of
   * {@code VgpuTypeCatalogue.t4()}).
   */
  static HostProfile t4Mdev() {
    List<DeviceSpec.Builder> list = new ArrayList<>();
    list.add(xeonHostBridge(0));
    int[] buses = {0x3b, 0xaf};
    for (int k = 0; k < buses.length; k++) {
      int bus = buses[k];
      PciAddress port = a(0, 1 + 2 * k, 0);
      list.add(bridge(port, null, XEON_ROOT_PORT, PciePortType.ROOT_PORT, bus, bus, k));
      list.add(GpuModel.T4.device(a(bus, 0, 0),
              GpuModel.T4.bars(0x0040_0000_0000L * (k + 1), 0xa000_0000L + k * 0x0200_0000L))
          .parent(port).numaNode(k).driver("nvidia").resettable(true));
    }
    HostProfile.Builder b = HostProfile.builder().name("t4-mdev")
        .cmdline("BOOT_IMAGE=/boot/vmlinuz-5.15.0-119-generic root=/dev/sda2 ro intel_iommu=on "
            + "iommu=pt");
    for (String driver : List.of("nvidia", "vfio-pci", "pcieport")) {
      b.loadDriver(driver);
    }
    for (String module : List.of("vfio", "vfio_iommu_type1", "vfio_pci", "mdev", "vfio_mdev")) {
      b.loadModule(module);
    }
    return withDevices(b, numberGroups(list, List.of(), 0)).build();
  }

  /** The GPU memory of one GB200 (HBM3e, 186 GB in NVIDIA's GB200 NVL4 data; inferred). */
  static final long GB200_MEMORY = 186 * G;
  /** NUMA nodes per GPU on a Grace host: the memory node and 7 for MIG (NEXT.md §5). */
  static final int GRACE_NODES_PER_GPU = 8;

  /**
   * A GB200 NVL4 host (NEXT.md §5, ANCHORS.md §1.2, SYSFS.md §9). Inferred, for want of a capture
   * of one: a PCI segment per root port as on GH200 hosts (GPUs at {@code 0008}, {@code 0009},
   * {@code 0018}, {@code 0019}:01:00.0, the NVMe and ConnectX-7 of each Grace at {@code 0000},
   * {@code 0001} and {@code 0010}, {@code 0011}), the root-port id, the NUMA numbering (Grace
   * nodes 0 and 1, then 8 nodes per GPU: the first holds its memory, 7 stay empty for MIG), the
   * platform USB controller {@code PNP0D10:00} in the first NVMe's SMMU group, the kernel version
   * and every BAR address. The GPU id 10de:2941 and the driver name are from the reference.
   */
  static HostProfile gb200Nvl4() {
    int[] gpuSegments = {0x0008, 0x0009, 0x0018, 0x0019};
    List<DeviceSpec.Builder> list = new ArrayList<>();
    for (int socket = 0; socket < 2; socket++) {
      int nvmeSegment = socket * 0x10;
      int nicSegment = socket * 0x10 + 1;
      PciAddress nvmePort = new PciAddress(nvmeSegment, 0, 0, 0);
      PciAddress nicPort = new PciAddress(nicSegment, 0, 0, 0);
      list.add(bridge(nvmePort, null, GRACE_ROOT_PORT, PciePortType.ROOT_PORT, 1, 1, socket)
          .subsystem(GRACE_ROOT_PORT));
      list.add(nvme(new PciAddress(nvmeSegment, 1, 0, 0), nvmePort,
          0x9000_0000L + socket * 0x0100_0000L, socket));
      list.add(bridge(nicPort, null, GRACE_ROOT_PORT, PciePortType.ROOT_PORT, 1, 1, socket)
          .subsystem(GRACE_ROOT_PORT));
      list.add(DeviceSpec.builder(new PciAddress(nicSegment, 1, 0, 0)).parent(nicPort)
          .id(CONNECTX7).subsystem(new PciId(0x15b3, 0x0026)).pciClass(INFINIBAND)
          .addBar(pref64(0, 0x3000_0000_0000L + socket * 0x0100_0000_0000L, 32 * M))
          .numaNode(socket).driver("mlx5_core").resettable(true));
    }
    for (int k = 0; k < gpuSegments.length; k++) {
      int socket = k / 2;
      PciAddress port = new PciAddress(gpuSegments[k], 0, 0, 0);
      long block = 0x4000_0000_0000L + k * 0x0100_0000_0000L;
      list.add(bridge(port, null, GRACE_ROOT_PORT, PciePortType.ROOT_PORT, 1, 1, socket)
          .subsystem(GRACE_ROOT_PORT));
      list.add(GpuModel.GB200.device(new PciAddress(gpuSegments[k], 1, 0, 0),
              GpuModel.GB200.bars(block, 0)).parent(port).numaNode(socket).driver("nvidia")
          .resettable(true).label("#GPU" + k));
    }
    HostProfile.Builder b = HostProfile.builder().name("gb200-nvl4")
        .architecture(CpuArchitecture.AARCH64)
        .cmdline("BOOT_IMAGE=/boot/vmlinuz-6.17.0-1003-nvidia-64k "
            + "root=UUID=0b7c5e7a-3c41-4d8e-9f0a-6e2d8c1b4a90 ro iommu.passthrough=1");
    for (String driver : List.of("nvidia", "vfio-pci", "nvgrace_gpu_vfio_pci", "pcieport",
        "nvme", "mlx5_core")) {
      b.loadDriver(driver);
    }
    for (String module : List.of("vfio", "vfio_iommu_type1", "vfio_pci_core", "nvidia_uvm",
        "arm_smmu_v3")) {
      b.loadModule(module);
    }
    b.numaNode(NumaNodeSpec.cpu(0, "0-71", 480 * G)).numaNode(NumaNodeSpec.cpu(1, "72-143",
        480 * G));
    for (int k = 0; k < gpuSegments.length; k++) {
      PciAddress gpu = new PciAddress(gpuSegments[k], 1, 0, 0);
      for (int i = 0; i < GRACE_NODES_PER_GPU; i++) {
        b.numaNode(NumaNodeSpec.gpuMemory(2 + GRACE_NODES_PER_GPU * k + i, gpu,
            i == 0 ? GB200_MEMORY : 0));
      }
    }
    List<DeviceSpec> devices = numberGroups(list, List.of(), 0);
    int nvmeGroup = devices.stream().filter(d -> d.address().equals(new PciAddress(0, 1, 0, 0)))
        .findFirst().orElseThrow().iommuGroup().getAsInt();
    b.platformDevice("PNP0D10:00", nvmeGroup);
    return withDevices(b, devices).build();
  }
}
