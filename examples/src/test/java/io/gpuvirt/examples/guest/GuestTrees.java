package io.gpuvirt.examples.guest;

import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.testkit.DeviceSpec;
import io.gpuvirt.testkit.HostProfile;

/**
 * Guest PCI trees as a QEMU q35 VM shows them, built with the testkit: a host bridge at
 * {@code 00:00.0}, then GPUs placed the way a VM launcher placed them. No IOMMU in the guest.
 */
final class GuestTrees {
  static final PciId B200 = new PciId(0x10de, 0x2901);
  static final PciId QEMU_ROOT_PORT = new PciId(0x1b36, 0x000c);
  static final PciId Q35_HOST = new PciId(0x8086, 0x29c0);
  static final long GIB = 1L << 30;
  static final long MIB = 1L << 20;

  private GuestTrees() {}

  static PciAddress at(String bdf) {
    return PciAddress.parse("0000:" + bdf);
  }

  /** A profile builder with the q35 host bridge and the drivers a GPU guest loads. */
  static HostProfile.Builder q35() {
    return HostProfile.builder().name("q35-guest")
        .cmdline("BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro console=ttyS0")
        .loadDriver("nvidia").loadDriver("pcieport")
        .device(DeviceSpec.builder(at("00:00.0")).id(Q35_HOST).subsystem(new PciId(0x1af4, 0x1100))
            .pciClass(new PciClass(0x060000)).portType(null).build());
  }

  /** A B200 (three 64-bit prefetchable BARs: 64M, 256G, 32M) at {@code bdf}, behind {@code parent}. */
  static DeviceSpec b200(String bdf, String parent, int index) {
    long base = 0x80_0000_0000L + index * 0x80_0000_0000L;
    return DeviceSpec.builder(at(bdf)).parent(parent == null ? null : at(parent)).id(B200)
        .subsystem(new PciId(0x10de, 0x1999)).pciClass(new PciClass(0x030200)).revision(0xa1)
        .addBar(new Bar(0, base + 256 * GIB, 64 * MIB, true, true, false))
        .addBar(new Bar(2, base, 256 * GIB, true, true, false))
        .addBar(new Bar(4, base + 256 * GIB + 64 * MIB, 32 * MIB, true, true, false))
        .driver("nvidia").build();
  }

  /** QEMU's pcie-root-port (1b36:000c) at {@code bdf} owning bus {@code bus}. */
  static DeviceSpec rootPort(String bdf, int bus, PciePortType type) {
    return DeviceSpec.builder(at(bdf)).id(QEMU_ROOT_PORT).subsystem(new PciId(0x1af4, 0x1100))
        .pciClass(new PciClass(0x060400)).busRange(new BusRange(bus, bus)).portType(type)
        .driver("pcieport").build();
  }

  /** The fixed layout: root port at 00:04.0, the B200 behind it at 01:00.0. */
  static HostProfile behindRootPort() {
    return q35().device(rootPort("00:04.0", 1, PciePortType.ROOT_PORT))
        .device(b200("01:00.0", "00:04.0", 0)).build();
  }

  /** The broken layout of the seed post: the B200 directly on the root complex at 00:04.0. */
  static HostProfile flat() {
    return q35().device(b200("00:04.0", null, 0)).build();
  }

  /** The fixed layout as an unprivileged user reads it: the root port's PCIe capability unread. */
  static HostProfile behindRootPortTypeUnreadable() {
    return q35().device(rootPort("00:04.0", 1, null))
        .device(b200("01:00.0", "00:04.0", 0)).build();
  }

  /** The B200 behind a bridge on the root bus that says it is not a root port. */
  static HostProfile behindPcieToPciBridge() {
    return q35().device(rootPort("00:04.0", 1, PciePortType.PCIE_TO_PCI_BRIDGE))
        .device(b200("01:00.0", "00:04.0", 0)).build();
  }

  /** Four B200s, one per root port at 00:10.0-00:13.0 (what QemuCommandBuilder emits). */
  static HostProfile fourBehindRootPorts() {
    HostProfile.Builder b = q35();
    for (int i = 0; i < 4; i++) {
      String port = String.format("00:%02x.0", 0x10 + i);
      b.device(rootPort(port, 1 + i, PciePortType.ROOT_PORT));
      b.device(b200(String.format("%02x:00.0", 1 + i), port, i));
    }
    return b.build();
  }

  /** Two B200s: one behind a root port at 01:00.0, one flat at 00:05.0. */
  static HostProfile oneBehindOneFlat() {
    return q35().device(rootPort("00:04.0", 1, PciePortType.ROOT_PORT))
        .device(b200("01:00.0", "00:04.0", 0)).device(b200("00:05.0", null, 1)).build();
  }

  /** The B200 behind a switch (upstream 01:00.0, downstream 02:00.0) behind a root port. */
  static HostProfile behindSwitch() {
    return q35()
        .device(DeviceSpec.builder(at("00:04.0")).id(QEMU_ROOT_PORT).pciClass(new PciClass(0x060400))
            .busRange(new BusRange(1, 3)).portType(PciePortType.ROOT_PORT).driver("pcieport").build())
        .device(DeviceSpec.builder(at("01:00.0")).parent(at("00:04.0")).id(new PciId(0x1b36, 0x000e))
            .pciClass(new PciClass(0x060400)).busRange(new BusRange(2, 3))
            .portType(PciePortType.SWITCH_UPSTREAM).driver("pcieport").build())
        .device(DeviceSpec.builder(at("02:00.0")).parent(at("01:00.0")).id(new PciId(0x1b36, 0x000e))
            .pciClass(new PciClass(0x060400)).busRange(new BusRange(3, 3))
            .portType(PciePortType.SWITCH_DOWNSTREAM).driver("pcieport").build())
        .device(b200("03:00.0", "02:00.0", 0)).build();
  }

  /** A guest with no NVIDIA GPU: only a virtio NIC on the root bus. */
  static HostProfile noGpu() {
    return q35().device(DeviceSpec.builder(at("00:02.0")).id(new PciId(0x1af4, 0x1041))
        .pciClass(new PciClass(0x020000)).addBar(new Bar(4, 0xfe00_0000L, 16 * 1024, true, true,
            false)).build()).build();
  }
}
