package io.gpuvirt.testkit;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Sriov;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * An independent reading of a host tree that follows the field contract of the topology scanner
 * (helper brief, "Shared contracts") line by line, so the testkit can check that its trees read back
 * to {@link SimulatedHost#expectedTopology()} without depending on the scanner.
 */
final class ContractReader {
  private ContractReader() {}

  /** Writes a host of the profile, reads it back and deletes it. */
  static Topology readBack(HostProfile profile) {
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      return scan(host.sysfs());
    }
  }

  static Topology scan(Sysfs s) {
    List<PciDevice> devices = new ArrayList<>();
    for (String name : s.list("/sys/bus/pci/devices")) {
      devices.add(device(s, PciAddress.parse(name)));
    }
    List<IommuGroup> groups = new ArrayList<>();
    if (s.isDirectory("/sys/kernel/iommu_groups")) {
      for (String n : s.list("/sys/kernel/iommu_groups")) {
        List<String> names = s.list("/sys/kernel/iommu_groups/" + n + "/devices");
        List<PciAddress> members = names.stream().filter(PciAddress::isValid)
            .map(PciAddress::parse).toList();
        List<String> others = names.stream().filter(m -> !PciAddress.isValid(m)).toList();
        groups.add(new IommuGroup(Integer.parseInt(n), members, others));
      }
    }
    return new Topology("contract reader", devices, groups);
  }

  static PciDevice device(Sysfs s, PciAddress a) {
    String base = a.sysfsPath();
    String canonical = s.canonicalPath(base);
    String parentDir = canonical.substring(0, canonical.lastIndexOf('/'));
    String parentName = parentDir.substring(parentDir.lastIndexOf('/') + 1);
    String[] segments = canonical.split("/");
    String rootDir = segments[3];
    if (!canonical.startsWith("/sys/devices/pci") || !rootDir.startsWith("pci")) {
      throw new AssertionError(a + " resolves to " + canonical + ", not into /sys/devices/pci*");
    }
    PciDevice.Builder b = PciDevice.builder(a).rootBus(rootDir.substring(3))
        .parent(PciAddress.isValid(parentName) ? PciAddress.parse(parentName) : null)
        .id(new PciId(hex(s, base + "/vendor"), hex(s, base + "/device")))
        .subsystem(new PciId(optHex(s, base + "/subsystem_vendor"),
            optHex(s, base + "/subsystem_device")))
        .pciClass(new PciClass(hex(s, base + "/class")))
        .revision(optHex(s, base + "/revision"))
        .driver(s.readLink(base + "/driver").map(ContractReader::basename).orElse(null))
        .numaNode(s.exists(base + "/numa_node")
            ? Integer.parseInt(s.read(base + "/numa_node").strip()) : -1)
        .resettable(s.exists(base + "/reset"));
    if (s.exists(base + "/driver_override")) {
      String o = s.read(base + "/driver_override").strip();
      b.driverOverride(o.isEmpty() || o.equals("(null)") ? null : o);
    }
    s.readLink(base + "/iommu_group").map(ContractReader::basename)
        .ifPresent(g -> b.iommuGroup(Integer.parseInt(g)));
    List<String> lines = s.read(base + "/resource").lines().toList();
    for (int i = 0; i < 6 && i < lines.size(); i++) {
      String[] f = lines.get(i).split(" ");
      long start = Long.decode(f[0]);
      long end = Long.decode(f[1]);
      long flags = Long.decode(f[2]);
      if (end - start + 1 > 0 && !(start == 0 && end == 0)) {
        boolean io = (flags & 0x100) != 0;
        b.addBar(new Bar(i, start, end - start + 1, (flags & 0x100000) != 0,
            !io && (flags & 0x2000) != 0, io));
      }
    }
    if (s.exists(base + "/secondary_bus_number") && s.exists(base + "/subordinate_bus_number")) {
      b.busRange(new BusRange(Integer.parseInt(s.read(base + "/secondary_bus_number").strip()),
          Integer.parseInt(s.read(base + "/subordinate_bus_number").strip())));
    }
    if (s.exists(base + "/config")) {
      portType(s.readBytes(base + "/config")).ifPresent(b::portType);
    }
    if (s.exists(base + "/sriov_totalvfs")) {
      TreeMap<Integer, PciAddress> vfs = new TreeMap<>();
      for (String e : s.list(base)) {
        if (e.startsWith("virtfn")) {
          vfs.put(Integer.parseInt(e.substring(6)),
              PciAddress.parse(basename(s.readLink(base + "/" + e).orElseThrow())));
        }
      }
      b.sriov(new Sriov(Integer.parseInt(s.read(base + "/sriov_totalvfs").strip()),
          Integer.parseInt(s.read(base + "/sriov_numvfs").strip()), List.copyOf(vfs.values())));
    }
    s.readLink(base + "/physfn").map(ContractReader::basename).map(PciAddress::parse)
        .ifPresent(b::physicalFunction);
    if (s.exists(base + "/label")) {
      b.label(s.read(base + "/label").strip());
    }
    return b.build();
  }

  /** The port type of the PCI Express capability, walking the capability list from 0x34. */
  static Optional<PciePortType> portType(byte[] config) {
    if (config.length < 0x40 || (config[0x06] & 0x10) == 0) {
      return Optional.empty();
    }
    int pos = config[0x34] & 0xfc;
    for (int guard = 0; pos != 0 && guard < 48 && pos + 3 < config.length; guard++) {
      if ((config[pos] & 0xff) == 0x10) {
        return PciePortType.fromCode((config[pos + 2] & 0xf0) >> 4);
      }
      pos = config[pos + 1] & 0xfc;
    }
    return Optional.empty();
  }

  private static int hex(Sysfs s, String path) {
    return Integer.decode(s.read(path).strip());
  }

  private static int optHex(Sysfs s, String path) {
    return s.exists(path) ? hex(s, path) : 0;
  }

  static String basename(String link) {
    return link.substring(link.lastIndexOf('/') + 1);
  }
}
