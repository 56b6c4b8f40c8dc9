package io.gpuvirt.qemu.testing;

import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.qemu.command.PassthroughDevices;
import io.gpuvirt.qemu.command.PassthroughUnit;
import java.util.ArrayList;
import java.util.List;

/** Host devices for the builder's tests, as the scanner would read them from an HGX host. */
public final class Hosts {
  /** GiB. */
  public static final long GIB = 1L << 30;
  /** MiB. */
  public static final long MIB = 1L << 20;

  /** The B200 GPUs' buses on an HGX B200, in PCI order. */
  public static final List<String> B200_BUSES =
      List.of("17", "3d", "60", "70", "98", "bb", "dd", "ed");

  private Hosts() {}

  /**
   * A B200 (10de:2901, class 0x030200) with BARs 64M, 256G, 32M, all 64-bit prefetchable, on
   * NUMA node 0 below bus 0x80 and node 1 above, as on an HGX B200.
   */
  public static PciDevice b200(String bdf) {
    long base = 0x220000000000L;
    PciAddress address = PciAddress.parse(bdf);
    return PciDevice.builder(address).id(new PciId(0x10de, 0x2901))
        .numaNode(address.bus() < 0x80 ? 0 : 1)
        .pciClass(new PciClass(0x030200)).revision(0xa1).driver("vfio-pci")
        .addBar(new Bar(0, base + 0x8000000000L, 64 * MIB, true, true, false))
        .addBar(new Bar(2, base, 256 * GIB, true, true, false))
        .addBar(new Bar(4, base + 0x8044000000L, 32 * MIB, true, true, false))
        .build();
  }

  /** The GB200 GPUs of a GB200 NVL4 host (a PCI segment each), in PCI order. */
  public static final List<String> GB200_GPUS =
      List.of("0008:01:00.0", "0009:01:00.0", "0018:01:00.0", "0019:01:00.0");

  /**
   * A GB200 (10de:2941, class 0x030200) on nvgrace_gpu_vfio_pci as the testkit's gb200-nvl4
   * preset has it: BARs 64M, 256G, 32M (inferred from the B200's), NUMA node 0 for segments
   * below 0x10, 1 above.
   */
  public static PciDevice gb200(String bdf) {
    PciAddress address = PciAddress.parse(bdf);
    long base = 0x400000000000L + (address.domain() & 0xf) * 0x10000000000L
        + (address.domain() >> 4) * 0x40000000000L;
    return PciDevice.builder(address).id(new PciId(0x10de, 0x2941))
        .numaNode(address.domain() < 0x10 ? 0 : 1)
        .pciClass(new PciClass(0x030200)).revision(0xa1).driver("nvgrace_gpu_vfio_pci")
        .addBar(new Bar(0, base + 0x8000000000L, 64 * MIB, true, true, false))
        .addBar(new Bar(2, base, 256 * GIB, true, true, false))
        .addBar(new Bar(4, base + 0x8044000000L, 32 * MIB, true, true, false))
        .build();
  }

  /** A VM with the first {@code n} GB200s of a GB200 NVL4 host, one unit each. */
  public static PassthroughDevices gb200Vm(int n) {
    return PassthroughDevices.of(GB200_GPUS.subList(0, n).stream().map(Hosts::gb200)
        .map(PassthroughUnit::gpu).toList());
  }

  /** The first {@code n} B200 GPUs of an HGX B200. */
  public static List<PciDevice> b200s(int n) {
    List<PciDevice> out = new ArrayList<>();
    for (String bus : B200_BUSES.subList(0, n)) {
      out.add(b200("0000:" + bus + ":00.0"));
    }
    return out;
  }

  /** A VM with the first {@code n} B200s, one unit each, no clique. */
  public static PassthroughDevices b200Vm(int n) {
    return PassthroughDevices.of(b200s(n).stream().map(PassthroughUnit::gpu).toList());
  }

  /**
   * An H100 SXM5 (10de:2330) with the Hopper layout: Region 0 16M, Region 2 128G, Region 4 32M,
   * all 64-bit prefetchable (fastfetch-cli/fastfetch#1658, HGX H100 {@code lspci -vvv}).
   */
  public static PciDevice h100(String bdf) {
    return PciDevice.builder(PciAddress.parse(bdf)).id(new PciId(0x10de, 0x2330))
        .pciClass(new PciClass(0x030200)).driver("vfio-pci")
        .addBar(new Bar(0, 0x3a000000000L, 16 * MIB, true, true, false))
        .addBar(new Bar(2, 0x38000000000L, 128 * GIB, true, true, false))
        .addBar(new Bar(4, 0x3a002000000L, 32 * MIB, true, true, false))
        .build();
  }

  /** An H100 NVSwitch (10de:22a3, class 0x068000) with a 32M 64-bit BAR. */
  public static PciDevice nvswitch(String bdf) {
    return PciDevice.builder(PciAddress.parse(bdf)).id(new PciId(0x10de, 0x22a3))
        .pciClass(new PciClass(0x068000)).driver("vfio-pci")
        .addBar(new Bar(0, 0x3c000000000L, 32 * MIB, true, false, false))
        .build();
  }

  /** A ConnectX-7 NVLink-management PF (15b3:1021, class 0x020700), 32M 64-bit prefetchable. */
  public static PciDevice cx7(String bdf) {
    return PciDevice.builder(PciAddress.parse(bdf)).id(new PciId(0x15b3, 0x1021))
        .pciClass(new PciClass(0x020700)).driver("vfio-pci")
        .addBar(new Bar(0, 0x3e000000000L, 32 * MIB, true, true, false))
        .build();
  }

  /** HGX B200 full passthrough: 8 GPUs plus the 4 NVLink-management PFs 05:00.0-3. */
  public static PassthroughDevices b200FullPassthrough() {
    PassthroughDevices.Builder b = PassthroughDevices.builder();
    b200s(8).forEach(g -> b.add(PassthroughUnit.gpu(g)));
    b.add(PassthroughUnit.fabric(cx7("0000:05:00.0"),
        List.of(cx7("0000:05:00.1"), cx7("0000:05:00.2"), cx7("0000:05:00.3"))));
    return b.build();
  }

  /** HGX H100 full passthrough: 8 GPUs plus 4 NVSwitches, each its own unit. */
  public static PassthroughDevices h100FullPassthrough() {
    PassthroughDevices.Builder b = PassthroughDevices.builder();
    for (String bus : List.of("1b", "43", "52", "61", "9d", "c3", "d1", "df")) {
      b.add(PassthroughUnit.gpu(h100("0000:" + bus + ":00.0")));
    }
    for (String bus : List.of("07", "08", "09", "0a")) {
      b.add(PassthroughUnit.fabric(nvswitch("0000:" + bus + ":00.0")));
    }
    return b.build();
  }

  /** A consumer GPU (10de:27b0, VGA) and its HDMI audio function (10de:22bc). */
  public static PassthroughUnit consumerGpuWithAudio() {
    PciDevice vga = PciDevice.builder(PciAddress.parse("0000:01:00.0"))
        .id(new PciId(0x10de, 0x27b0)).pciClass(new PciClass(0x030000))
        .addBar(new Bar(0, 0xf6000000L, 16 * MIB, false, false, false))
        .addBar(new Bar(1, 0xe0000000L, 256 * MIB, true, true, false))
        .addBar(new Bar(3, 0xf0000000L, 32 * MIB, true, true, false))
        .addBar(new Bar(5, 0xe000, 128, false, false, true))
        .build();
    PciDevice audio = PciDevice.builder(PciAddress.parse("0000:01:00.1"))
        .id(new PciId(0x10de, 0x22bc)).pciClass(new PciClass(0x040300))
        .addBar(new Bar(0, 0xf7080000L, 16 * 1024, false, false, false))
        .build();
    return PassthroughUnit.gpu(vga, List.of(audio));
  }
}
