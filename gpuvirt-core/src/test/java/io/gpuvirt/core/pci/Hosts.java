package io.gpuvirt.core.pci;

/** Fixture hosts built with {@link SysfsTree}. */
final class Hosts {
  static final long MEM64_PREF = 0x14220cL;
  static final long MEM64 = 0x140204L;
  static final long MEM32 = 0x40200L;
  static final long IO = 0x40101L;
  static final long M = 1L << 20;
  static final long G = 1L << 30;

  private Hosts() {}

  /**
   * One slice of an HGX B200 host and a workstation corner:
   *
   * <pre>
   * pci0000:00  00:00.0 host bridge
   *             00:01.0 root port [01] -- 01:00.0 VGA GPU + 01:00.1 audio (group 3)
   * pci0000:14  14:02.0 root port [15-1a]
   *               15:00.0 switch upstream [16-1a]
   *                 16:00.0 downstream [17] -- 17:00.0 B200 GPU (group 17, NUMA 0, #GPU0)
   *                 16:01.0 downstream [18] -- 18:00.0 ConnectX PF (VFs 18:00.2, 18:00.3)
   *                 16:02.0 downstream [19] -- 19:00.0 B200 GPU (group 19)
   *                 16:03.0 downstream [1a] (empty slot)
   * </pre>
   */
  static void hgxSlice(SysfsTree t) {
    t.add("0000:00:00.0").pciClass(0x060000).id(0x8086, 0x09a2).iommuGroup(0);
    SysfsTree.Dev rp0 = t.add("0000:00:01.0").id(0x8086, 0x347a)
        .bridge(0x01, 0x01, PciePortType.ROOT_PORT).driver("pcieport").iommuGroup(3);
    t.add("0000:01:00.0", rp0).id(0x10de, 0x27b0).pciClass(0x030000).driver("nvidia")
        .iommuGroup(3).numa(1).pcie(PciePortType.ENDPOINT)
        .bar(0, 0xfb000000L, 16 * M, MEM32).bar(1, 0x6000000000L, 256 * M, MEM64_PREF)
        .bar(5, 0xe000, 128, IO);
    t.add("0000:01:00.1", rp0).id(0x10de, 0x22bc).pciClass(0x040300).driver("snd_hda_intel")
        .iommuGroup(3).numa(1).bar(0, 0xfc080000L, 16 * 1024, MEM32);

    SysfsTree.Dev rp = t.add("0000:14:02.0").id(0x8086, 0x352a)
        .bridge(0x15, 0x1a, PciePortType.ROOT_PORT).driver("pcieport").iommuGroup(20);
    SysfsTree.Dev up = t.add("0000:15:00.0", rp).id(0x1000, 0xc030)
        .bridge(0x16, 0x1a, PciePortType.SWITCH_UPSTREAM).driver("pcieport").iommuGroup(21);
    SysfsTree.Dev dn0 = t.add("0000:16:00.0", up).id(0x1000, 0xc030)
        .bridge(0x17, 0x17, PciePortType.SWITCH_DOWNSTREAM).driver("pcieport").iommuGroup(22);
    SysfsTree.Dev dn1 = t.add("0000:16:01.0", up).id(0x1000, 0xc030)
        .bridge(0x18, 0x18, PciePortType.SWITCH_DOWNSTREAM).driver("pcieport").iommuGroup(23);
    SysfsTree.Dev dn2 = t.add("0000:16:02.0", up).id(0x1000, 0xc030)
        .bridge(0x19, 0x19, PciePortType.SWITCH_DOWNSTREAM).driver("pcieport").iommuGroup(24);
    t.add("0000:16:03.0", up).id(0x1000, 0xc030)
        .bridge(0x1a, 0x1a, PciePortType.SWITCH_DOWNSTREAM).driver("pcieport").iommuGroup(25);
    b200(t.add("0000:17:00.0", dn0), 17, 0).label("#GPU0").write("driver_override", "nvidia\n");
    SysfsTree.Dev pf = t.add("0000:18:00.0", dn1).id(0x15b3, 0x1021).pciClass(0x020700)
        .driver("mlx5_core").iommuGroup(18).numa(0).pcie(PciePortType.ENDPOINT)
        .bar(0, 0x20000000000L, 32 * M, MEM64_PREF).resettable();
    SysfsTree.Dev vf0 = t.add("0000:18:00.2", dn1).id(0x15b3, 0x101e).pciClass(0x020700)
        .iommuGroup(30).numa(0).bar(0, 0x20002000000L, M, MEM64_PREF);
    SysfsTree.Dev vf1 = t.add("0000:18:00.3", dn1).id(0x15b3, 0x101e).pciClass(0x020700)
        .driver("vfio-pci").iommuGroup(31).numa(0).bar(0, 0x20002100000L, M, MEM64_PREF);
    pf.sriov(8, vf0, vf1);
    b200(t.add("0000:19:00.0", dn2), 19, 0);
  }

  static SysfsTree.Dev b200(SysfsTree.Dev d, int group, int numa) {
    return d.id(0x10de, 0x2901).pciClass(0x030200).revision(0xa1).subsystem(0x10de, 0x1999)
        .driver("nvidia").iommuGroup(group).numa(numa).pcie(PciePortType.ENDPOINT).resettable()
        .bar(0, 0x228000000000L, 64 * M, MEM64_PREF)
        .bar(2, 0x220000000000L, 256 * G, MEM64_PREF)
        .bar(4, 0x228044000000L, 32 * M, MEM64_PREF);
  }
}
