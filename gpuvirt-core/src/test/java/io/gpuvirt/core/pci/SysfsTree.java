package io.gpuvirt.core.pci;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A small sysfs tree on disk for scanner tests (core's tests cannot use the testkit): nested device
 * directories under {@code sys/devices/pciDDDD:BB}, {@code sys/bus/pci/devices} links into them,
 * attribute files as the kernel writes them, and a config space that lspci can read too.
 */
final class SysfsTree {
  private final Path root;

  SysfsTree(Path root) {
    this.root = root;
    mkdirs(root.resolve("sys/bus/pci/devices"));
    mkdirs(root.resolve("sys/kernel/iommu_groups"));
  }

  Path root() {
    return root;
  }

  /** A device directly on its root bus {@code pciDDDD:BB}. */
  Dev add(String bdf) {
    PciAddress a = PciAddress.parse(bdf);
    return new Dev(a, root.resolve("sys/devices/pci" + a.busId()).resolve(bdf));
  }

  /** A device behind {@code parent}. */
  Dev add(String bdf, Dev parent) {
    return new Dev(PciAddress.parse(bdf), parent.dir.resolve(bdf));
  }

  /** A device in an arbitrary directory under the root (for trees Linux would not build). */
  Dev addAt(String bdf, String relativeDirectory) {
    return new Dev(PciAddress.parse(bdf), root.resolve(relativeDirectory).resolve(bdf));
  }

  /** Writes a file under the root, creating its directory. */
  void write(String relative, String content) {
    Path p = root.resolve(relative);
    mkdirs(p.getParent());
    try {
      Files.writeString(p, content);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  void link(Path link, Path target) {
    try {
      mkdirs(link.getParent());
      Files.deleteIfExists(link);
      Files.createSymbolicLink(link, link.getParent().relativize(target));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void mkdirs(Path p) {
    try {
      Files.createDirectories(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One device directory; every setter writes the files at once. */
  final class Dev {
    final PciAddress address;
    final Path dir;
    private final byte[] config = new byte[256];
    private final List<String> resource = new ArrayList<>();

    private Dev(PciAddress address, Path dir) {
      this.address = address;
      this.dir = dir;
      mkdirs(dir);
      link(root.resolve("sys/bus/pci/devices").resolve(address.toString()), dir);
      for (int i = 0; i < 13; i++) {
        resource.add("0x0000000000000000 0x0000000000000000 0x0000000000000000");
      }
      id(0x8086, 0x1234);
      pciClass(0x088000);
      write("subsystem_vendor", "0x0000\n");
      write("subsystem_device", "0x0000\n");
      write("revision", "0x00\n");
      write("numa_node", "-1\n");
      write("irq", "0\n");
      write("driver_override", "(null)\n");
      writeResource();
    }

    Dev id(int vendor, int device) {
      write("vendor", String.format("0x%04x\n", vendor));
      write("device", String.format("0x%04x\n", device));
      config[0] = (byte) vendor;
      config[1] = (byte) (vendor >> 8);
      config[2] = (byte) device;
      config[3] = (byte) (device >> 8);
      return writeConfig();
    }

    Dev subsystem(int vendor, int device) {
      write("subsystem_vendor", String.format("0x%04x\n", vendor));
      return write("subsystem_device", String.format("0x%04x\n", device));
    }

    Dev pciClass(int code) {
      write("class", String.format("0x%06x\n", code));
      config[0x09] = (byte) code;
      config[0x0a] = (byte) (code >> 8);
      config[0x0b] = (byte) (code >> 16);
      return writeConfig();
    }

    Dev revision(int rev) {
      config[0x08] = (byte) rev;
      writeConfig();
      return write("revision", String.format("0x%02x\n", rev));
    }

    /** A PCI-to-PCI bridge (class 0x0604, header type 1) owning buses secondary..subordinate. */
    Dev bridge(int secondary, int subordinate, PciePortType type) {
      pciClass(0x060400);
      config[0x0e] = 1;
      config[0x18] = (byte) address.bus();
      config[0x19] = (byte) secondary;
      config[0x1a] = (byte) subordinate;
      write("secondary_bus_number", secondary + "\n");
      write("subordinate_bus_number", subordinate + "\n");
      return pcie(type);
    }

    /** A PCI Express capability at 0x50 (after a PM capability at 0x40) with this port type. */
    Dev pcie(PciePortType type) {
      config[0x06] = 0x10;
      config[0x34] = 0x40;
      config[0x40] = 0x01;
      config[0x41] = 0x50;
      config[0x50] = 0x10;
      config[0x51] = 0x00;
      config[0x52] = (byte) ((type.code() << 4) | 0x2);
      return writeConfig();
    }

    Dev bar(int index, long start, long size, long flags) {
      resource.set(index, String.format("0x%016x 0x%016x 0x%016x", start, start + size - 1, flags));
      return writeResource();
    }

    Dev driver(String name) {
      Path driverDir = root.resolve("sys/bus/pci/drivers").resolve(name);
      mkdirs(driverDir);
      link(dir.resolve("driver"), driverDir);
      return this;
    }

    Dev iommuGroup(int number) {
      Path group = root.resolve("sys/kernel/iommu_groups").resolve(Integer.toString(number));
      link(group.resolve("devices").resolve(address.toString()), dir);
      link(dir.resolve("iommu_group"), group);
      return this;
    }

    Dev numa(int node) {
      return write("numa_node", node + "\n");
    }

    Dev label(String text) {
      return write("label", text + "\n");
    }

    Dev resettable() {
      return write("reset", "");
    }

    /** Makes this a PF with {@code vfs} enabled, each VF linked both ways. */
    Dev sriov(int totalVfs, Dev... vfs) {
      write("sriov_totalvfs", totalVfs + "\n");
      write("sriov_numvfs", vfs.length + "\n");
      for (int i = 0; i < vfs.length; i++) {
        link(dir.resolve("virtfn" + i), vfs[i].dir);
        link(vfs[i].dir.resolve("physfn"), dir);
      }
      return this;
    }

    Dev write(String attribute, String content) {
      try {
        Files.writeString(dir.resolve(attribute), content, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return this;
    }

    Dev writeBytes(String attribute, byte[] content) {
      try {
        Files.write(dir.resolve(attribute), content);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return this;
    }

    Dev delete(String attribute) {
      try {
        Files.delete(dir.resolve(attribute));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return this;
    }

    /** The host path of an attribute, as the scanner names it in messages. */
    String hostPath(String attribute) {
      return address.sysfsPath(attribute);
    }

    private Dev writeConfig() {
      return writeBytes("config", config);
    }

    private Dev writeResource() {
      return write("resource", String.join("\n", resource) + "\n");
    }
  }
}
