package io.gpuvirt.testkit;

import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.BridgeWindows.Windows;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Writes the tree of a {@link HostProfile} at boot into an empty directory. */
final class TreeWriter {
  private final HostProfile profile;
  private final HostTree tree;
  private final Map<PciAddress, Windows> windows;
  private final Map<PciAddress, Integer> irqs = new HashMap<>();

  TreeWriter(HostProfile profile, HostTree tree) {
    this.profile = profile;
    this.tree = tree;
    this.windows = BridgeWindows.compute(profile.devices());
    List<DeviceSpec> devices = profile.devices();
    for (int i = 0; i < devices.size(); i++) {
      irqs.put(devices.get(i).address(), 24 + i % 200);
    }
  }

  /** Writes the whole tree and the profile file. */
  void writeAll() throws IOException {
    Path root = tree.root();
    for (String dir : List.of("sys/devices", "sys/bus/pci/devices", "sys/bus/pci/drivers",
        "sys/bus/pci/slots", "sys/kernel/iommu_groups", "sys/module", "sys/class/iommu", "proc",
        "etc/modprobe.d", "etc/modules-load.d", "dev")) {
      Files.createDirectories(root.resolve(dir));
    }
    HostTree.write(root.resolve("sys/bus/pci/drivers_probe"), "");
    HostTree.write(root.resolve("sys/bus/pci/rescan"), "");
    HostTree.write(root.resolve("sys/bus/pci/drivers_autoprobe"), "1\n");
    for (String module : profile.modules()) {
      Path m = root.resolve("sys/module").resolve(module);
      Files.createDirectories(m);
      HostTree.write(m.resolve("initstate"), "live\n");
      HostTree.write(m.resolve("refcnt"), "0\n");
    }
    for (String driver : profile.drivers()) {
      Path d = tree.driverDir(driver);
      Files.createDirectories(d);
      for (String f : List.of("bind", "unbind", "new_id", "remove_id", "uevent")) {
        HostTree.write(d.resolve(f), "");
      }
      String module = HostProfile.moduleName(driver);
      if (!HostProfile.BUILT_IN_DRIVERS.contains(driver) && profile.modules().contains(module)) {
        HostTree.link(d.resolve("module"), root.resolve("sys/module").resolve(module));
      }
    }
    if (profile.modules().contains("vfio_pci")) {
      Files.createDirectories(root.resolve("dev/vfio"));
      HostTree.write(root.resolve("dev/vfio/vfio"), "");
    }
    if (profile.iommuEnabled()) {
      for (String unit : iommuUnits(profile)) {
        Files.createDirectories(root.resolve("sys/class/iommu").resolve(unit));
      }
    }
    HostTree.write(root.resolve("proc/cmdline"), profile.cmdline() + "\n");
    if (profile.architecture() == CpuArchitecture.AARCH64) {
      HostTree.write(root.resolve("proc/cpuinfo"), armCpuinfo(profile));
    }
    writeNumaNodes();
    if (profile.fabricMode().isPresent()) {
      Path cfg = root.resolve(HostTree.FABRIC_MANAGER_CFG);
      Files.createDirectories(cfg.getParent());
      HostTree.write(cfg, fabricManagerCfg(profile.fabricMode().getAsInt()));
    }
    for (Map.Entry<String, String> e : profile.files().entrySet()) {
      Path p = root.resolve(e.getKey().substring(1));
      Files.createDirectories(p.getParent());
      HostTree.write(p, e.getValue());
    }
    for (DeviceSpec d : parentsFirst(profile.devices())) {
      createDevice(d);
    }
    for (DeviceSpec d : profile.devices()) {
      bootBind(d.address(), d.driver());
    }
    for (DeviceSpec d : profile.devices()) {
      if (d.sriov().isPresent() && d.sriov().get().enabledVfs() > 0) {
        for (DeviceSpec vf : tree.createVfs(d, d.sriov().get().enabledVfs())) {
          bootBind(vf.address(), vf.driver());
        }
      }
    }
    writeBlockDevices();
    for (Map.Entry<String, Integer> e : profile.platformDevices().entrySet()) {
      Path dir = root.resolve("sys/devices/platform").resolve(e.getKey());
      Files.createDirectories(dir);
      HostTree.write(dir.resolve("uevent"), "");
      tree.joinGroup(e.getKey(), dir, e.getValue());
    }
    Files.createDirectories(root.resolve("proc/self"));
    HostTree.write(root.resolve("proc/self/mounts"), mounts(profile));
    HostTree.write(root.resolve(HostTree.PROFILE_FILE), ProfileJson.write(profile));
  }

  /**
   * The IOMMU units under {@code /sys/class/iommu}: Intel's {@code dmar0} on x86, and on arm64 one
   * SMMUv3 per PCI segment, named by its MMIO base as the arm-smmu-v3 driver names them
   * ({@code smmu3.0x0000000011000000}; the bases are illustrative).
   */
  static List<String> iommuUnits(HostProfile profile) {
    if (profile.architecture() != CpuArchitecture.AARCH64) {
      return List.of("dmar0");
    }
    List<String> out = new ArrayList<>();
    profile.devices().stream().mapToInt(d -> d.address().domain()).distinct().sorted()
        .forEach(domain -> out.add(String.format("smmu3.0x%016x",
            0x0000_0000_1100_0000L + (long) domain * 0x0100_0000L)));
    return out;
  }

  /**
   * {@code /proc/cpuinfo} as an arm64 kernel writes it for Neoverse V2 cores (Grace: implementer
   * 0x41, part 0xd4f), one block per CPU of the profile's nodes (one CPU when none are declared).
   */
  private static String armCpuinfo(HostProfile profile) {
    int cpus = 0;
    for (NumaNodeSpec n : profile.numaNodes()) {
      cpus += cpuCount(n.cpuList());
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.max(cpus, 1); i++) {
      sb.append("processor\t: ").append(i).append('\n')
          .append("BogoMIPS\t: 2000.00\n")
          .append("Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp"
              + " cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm"
              + " dit uscat ilrcpc flagm ssbs sb paca pacg dcpodp sve2 sveaes svepmull svebitperm"
              + " svesha3 svesm4 flagm2 frint svei8mm svebf16 i8mm bf16 dgh bti\n")
          .append("CPU implementer\t: 0x41\n")
          .append("CPU architecture: 8\n")
          .append("CPU variant\t: 0x0\n")
          .append("CPU part\t: 0xd4f\n")
          .append("CPU revision\t: 0\n\n");
    }
    return sb.toString();
  }

  private static int cpuCount(String cpuList) {
    int count = 0;
    for (String part : cpuList.split(",")) {
      if (part.isEmpty()) {
        continue;
      }
      String[] ends = part.split("-");
      count += ends.length == 1 ? 1 : Integer.parseInt(ends[1]) - Integer.parseInt(ends[0]) + 1;
    }
    return count;
  }

  /**
   * {@code /sys/devices/system/node}: {@code online}, {@code has_cpu}, {@code has_memory} and per
   * node {@code cpulist} and {@code meminfo} (its {@code MemTotal} line).
   */
  private void writeNumaNodes() throws IOException {
    if (profile.numaNodes().isEmpty()) {
      return;
    }
    Path nodes = tree.root().resolve("sys/devices/system/node");
    Files.createDirectories(nodes);
    List<Integer> all = new ArrayList<>();
    List<Integer> withCpu = new ArrayList<>();
    List<Integer> withMemory = new ArrayList<>();
    for (NumaNodeSpec n : profile.numaNodes()) {
      all.add(n.id());
      if (!n.cpuList().isEmpty()) {
        withCpu.add(n.id());
      }
      if (n.memoryBytes() > 0) {
        withMemory.add(n.id());
      }
      Path dir = nodes.resolve("node" + n.id());
      Files.createDirectories(dir);
      HostTree.write(dir.resolve("cpulist"), n.cpuList() + "\n");
      HostTree.write(dir.resolve("meminfo"), String.format("Node %d MemTotal:       %d kB%n",
          n.id(), n.memoryBytes() / 1024));
    }
    HostTree.write(nodes.resolve("online"), ranges(all) + "\n");
    HostTree.write(nodes.resolve("possible"), ranges(all) + "\n");
    HostTree.write(nodes.resolve("has_cpu"), ranges(withCpu) + "\n");
    HostTree.write(nodes.resolve("has_memory"), ranges(withMemory) + "\n");
  }

  /** A sorted list of ids as the kernel prints a node mask: {@code 0-1,3}. */
  static String ranges(List<Integer> ids) {
    StringBuilder sb = new StringBuilder();
    int i = 0;
    while (i < ids.size()) {
      int j = i;
      while (j + 1 < ids.size() && ids.get(j + 1) == ids.get(j) + 1) {
        j++;
      }
      sb.append(sb.length() == 0 ? "" : ",").append(ids.get(i));
      if (j > i) {
        sb.append('-').append(ids.get(j));
      }
      i = j + 1;
    }
    return sb.toString();
  }

  /**
   * The block devices of the profile's mounts, where the nvme driver puts them: the namespace
   * {@code <device>/nvme/nvme0/nvme0n1} with its partitions {@code nvme0n1/nvme0n1p1} inside,
   * linked from {@code /sys/block} (namespaces) and {@code /sys/class/block} (both).
   */
  private void writeBlockDevices() throws IOException {
    Path root = tree.root();
    int minor = 0;
    for (DeviceSpec d : profile.devices()) {
      for (DeviceSpec.MountSpec m : d.mounts()) {
        Path namespace = tree.deviceDir(d.address()).resolve("nvme").resolve(m.controller())
            .resolve(m.namespace());
        if (!Files.isDirectory(namespace)) {
          Files.createDirectories(namespace);
          HostTree.write(namespace.resolve("dev"), "259:" + minor++ + "\n");
          HostTree.write(namespace.resolve("size"), "1875385008\n");
          Files.createDirectories(root.resolve("sys/block"));
          Files.createDirectories(root.resolve("sys/class/block"));
          HostTree.link(root.resolve("sys/block").resolve(m.namespace()), namespace);
          HostTree.link(root.resolve("sys/class/block").resolve(m.namespace()), namespace);
        }
        if (m.partition() > 0) {
          Path partition = namespace.resolve(m.blockDevice());
          Files.createDirectories(partition);
          HostTree.write(partition.resolve("dev"), "259:" + minor++ + "\n");
          HostTree.write(partition.resolve("partition"), m.partition() + "\n");
          HostTree.link(root.resolve("sys/class/block").resolve(m.blockDevice()), partition);
        }
      }
    }
  }

  /**
   * {@code /proc/self/mounts} as the kernel writes it: the root filesystem, the kernel's own
   * filesystems, then the other mounts of the profile, with the kernel's octal escapes.
   */
  static String mounts(HostProfile profile) {
    List<String> device = new ArrayList<>();
    String rootLine = null;
    for (DeviceSpec d : profile.devices()) {
      for (DeviceSpec.MountSpec m : d.mounts()) {
        String line = "/dev/" + m.blockDevice() + " " + escape(m.mountPoint()) + " " + m.fsType()
            + " rw,relatime 0 0\n";
        if (m.mountPoint().equals("/")) {
          rootLine = line;
        } else {
          device.add(line);
        }
      }
    }
    StringBuilder s = new StringBuilder();
    if (rootLine != null) {
      s.append(rootLine);
    }
    s.append("sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n")
        .append("proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n")
        .append("udev /dev devtmpfs rw,nosuid,relatime,size=32803312k,nr_inodes=8200828,mode=755,"
            + "inode64 0 0\n")
        .append("tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=6569732k,mode=755,inode64"
            + " 0 0\n")
        .append("tmpfs /dev/shm tmpfs rw,nosuid,nodev,inode64 0 0\n");
    device.forEach(s::append);
    return s.toString();
  }

  /** The kernel's escapes in {@code /proc/self/mounts}: space, tab, newline, backslash. */
  private static String escape(String field) {
    return field.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
        .replace("\n", "\\012");
  }

  /** The devices ordered so that every bridge comes before what sits behind it. */
  static List<DeviceSpec> parentsFirst(List<DeviceSpec> devices) {
    Map<PciAddress, DeviceSpec> byAddress = new HashMap<>();
    devices.forEach(d -> byAddress.put(d.address(), d));
    List<DeviceSpec> out = new ArrayList<>(devices);
    out.sort((x, y) -> {
      int c = Integer.compare(depth(x, byAddress), depth(y, byAddress));
      return c != 0 ? c : x.address().compareTo(y.address());
    });
    return out;
  }

  static int depth(DeviceSpec d, Map<PciAddress, DeviceSpec> byAddress) {
    int depth = 0;
    Optional<PciAddress> p = d.parent();
    while (p.isPresent()) {
      depth++;
      p = byAddress.get(p.get()).parent();
    }
    return depth;
  }

  /** Writes one device of the profile into its parent's directory (which must exist). */
  void createDevice(DeviceSpec d) throws IOException {
    Path parentDir;
    if (d.parent().isPresent()) {
      parentDir = tree.deviceDir(d.parent().get());
    } else {
      String bus = String.format("%04x:%02x", d.address().domain(), d.address().bus());
      parentDir = tree.sysDevices().resolve("pci" + bus);
      if (!Files.isDirectory(parentDir)) {
        Files.createDirectories(parentDir.resolve("pci_bus").resolve(bus));
      }
    }
    boolean multifunction = profile.devices().stream().anyMatch(o -> !o.equals(d)
        && o.address().domain() == d.address().domain() && o.address().bus() == d.address().bus()
        && o.address().device() == d.address().device());
    Windows w = windows.get(d.address());
    ConfigSpace.Context ctx = new ConfigSpace.Context(multifunction, false, w,
        irqs.getOrDefault(d.address(), 24), 0, d.address().device());
    tree.createFunction(d, parentDir, ctx, w);
  }

  /** Binds a device to its default driver at boot (or rescan), if that driver is loaded. */
  void bootBind(PciAddress a, Optional<String> driver) throws IOException {
    if (driver.isPresent() && tree.driverLoaded(driver.get())) {
      tree.bind(a, driver.get());
      new MdevModel(profile, tree).driverBound(a, driver.get());
    }
  }

  /** {@code fabricmanager.cfg} in the shipped format (FABRIC.md §2) with this mode. */
  static String fabricManagerCfg(int mode) {
    return "# NVIDIA Fabric Manager configuration file (simulated host)\n"
        + "LOG_LEVEL=4\n"
        + "LOG_FILE_NAME=/var/log/fabricmanager.log\n"
        + "LOG_APPEND_TO_LOG=1\n"
        + "LOG_FILE_MAX_SIZE=1024\n"
        + "LOG_MAX_ROTATE_COUNT=3\n"
        + "LOG_USE_SYSLOG=0\n"
        + "DAEMONIZE=1\n"
        + "BIND_INTERFACE_IP=127.0.0.1\n"
        + "STARTING_TCP_PORT=16000\n"
        + "UNIX_SOCKET_PATH=\n"
        + "# 0 bare metal / full passthrough, 1 shared NVSwitch, 2 vGPU\n"
        + "FABRIC_MODE=" + mode + "\n"
        + "FABRIC_MODE_RESTART=0\n"
        + "STATE_FILE_NAME=/tmp/fabricmanager.state\n"
        + "FM_CMD_BIND_INTERFACE=127.0.0.1 \n"
        + "FM_CMD_PORT_NUMBER=6666\n"
        + "FM_CMD_UNIX_SOCKET_PATH=\n"
        + "FM_STAY_RESIDENT_ON_FAILURES=0\n"
        + "ACCESS_LINK_FAILURE_MODE=0\n"
        + "TRUNK_LINK_FAILURE_MODE=0\n"
        + "NVSWITCH_FAILURE_MODE=0\n"
        + "ABORT_CUDA_JOBS_ON_FM_EXIT=1\n"
        + "TOPOLOGY_FILE_PATH=/usr/share/nvidia/nvswitch\n"
        + "DATABASE_PATH=/usr/share/nvidia/nvswitch\n"
        + "FM_SM_IPC_INTERFACE=/var/run/nvidia-fabricmanager/fm_sm_ipc.socket\n"
        + "FM_SM_MGMT_PORT_GUID=0x0\n";
  }
}
