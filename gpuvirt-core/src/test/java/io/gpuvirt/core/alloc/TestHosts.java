package io.gpuvirt.core.alloc;

import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Topology;
import java.util.Map;
import java.util.TreeMap;

/** Hand-built hosts for core's allocation tests. */
public final class TestHosts {
  /** HGX B200 GPU buses in PCI order. */
  public static final int[] B200_BUSES = {0x17, 0x3d, 0x60, 0x70, 0x98, 0xbb, 0xdd, 0xed};
  /** Module ids of those GPUs (not PCI order): 17→1, 3d→4, 60→2, 70→3, 98→7, bb→5, dd→8, ed→6. */
  public static final int[] B200_MODULES = {1, 4, 2, 3, 7, 5, 8, 6};

  private TestHosts() {}

  /**
   * An HGX B200: 8 GPUs 10de:2901, each behind root port, switch upstream and downstream port
   * (root port (b-3):02.0, USP (b-2):00.0, DSP (b-1):00.0), one IOMMU group per GPU (group = index+10),
   * NUMA 0 for the first four, 1 for the rest.
   */
  public static Topology hgxB200() {
    return b200Builder().build();
  }

  /** The B200 host as a builder, to change before building. */
  public static TestHost b200Builder() {
    TestHost h = new TestHost("simulated HGX B200");
    for (int i = 0; i < 8; i++) {
      int b = B200_BUSES[i];
      int numa = i < 4 ? 0 : 1;
      String rp = String.format("0000:%02x:02.0", b - 3);
      String usp = String.format("0000:%02x:00.0", b - 2);
      String dsp = String.format("0000:%02x:00.0", b - 1);
      h.bridge(rp, null, PciePortType.ROOT_PORT, numa)
          .bridge(usp, rp, PciePortType.SWITCH_UPSTREAM, numa)
          .bridge(dsp, usp, PciePortType.SWITCH_DOWNSTREAM, numa)
          .gpu(String.format("0000:%02x:00.0", b), dsp, TestHost.B200, numa, 10 + i);
    }
    return h;
  }

  /** The module-id map of {@link #hgxB200()}. */
  public static ModuleIdMap b200ModuleIds() {
    Map<Integer, PciAddress> map = new TreeMap<>();
    for (int i = 0; i < 8; i++) {
      map.put(B200_MODULES[i], new PciAddress(0, B200_BUSES[i], 0, 0));
    }
    return new ModuleIdMap(map);
  }

  /** The address of the B200 GPU with module id {@code module}. */
  public static PciAddress b200Gpu(int module) {
    return b200ModuleIds().address(module).orElseThrow();
  }

  /**
   * Two NUMA nodes with PCIe switches: node 0 has switch A (4 GPUs 10de:2330, groups 1-4) and switch B
   * (2 GPUs, groups 5-6); node 1 has switch C (4 GPUs, groups 7-10) and switch D (3 GPUs,
   * groups 11-13).
   */
  public static Topology switches() {
    TestHost h = new TestHost("two-socket host with PCIe switches");
    int group = 1;
    int[][] layout = {{0, 0x10, 4}, {0, 0x30, 2}, {1, 0x90, 4}, {1, 0xb0, 3}};
    for (int[] sw : layout) {
      int numa = sw[0];
      int base = sw[1];
      String rp = String.format("0000:%02x:01.0", base);
      String usp = String.format("0000:%02x:00.0", base + 1);
      h.bridge(rp, null, PciePortType.ROOT_PORT, numa)
          .bridge(usp, rp, PciePortType.SWITCH_UPSTREAM, numa);
      for (int i = 0; i < sw[2]; i++) {
        String dsp = String.format("0000:%02x:%02x.0", base + 2, i);
        h.bridge(dsp, usp, PciePortType.SWITCH_DOWNSTREAM, numa)
            .gpu(String.format("0000:%02x:00.0", base + 3 + i), dsp, TestHost.H100, numa, group++);
      }
    }
    return h.build();
  }

  /** A workstation: GPU 01:00.0 (VGA 10de:27b0) and its HDMI audio 01:00.1 in group 13; a NIC in group 14. */
  public static Topology workstation() {
    return new TestHost("workstation")
        .bridge("0000:00:01.0", null, PciePortType.ROOT_PORT, -1)
        .endpoint("0000:01:00.0", "0000:00:01.0", new io.gpuvirt.core.pci.PciId(0x10de, 0x27b0),
            0x030000, -1, 13, "nvidia")
        .endpoint("0000:01:00.1", "0000:00:01.0", TestHost.AUDIO, 0x040300, -1, 13,
            "snd_hda_intel")
        .bridge("0000:00:1c.0", null, PciePortType.ROOT_PORT, -1)
        .endpoint("0000:02:00.0", "0000:00:1c.0", new io.gpuvirt.core.pci.PciId(0x8086, 0x1533),
            0x020000, -1, 14, "igb")
        .build();
  }

  /**
   * A switch without ACS: GPUs 05:00.0 and 06:00.0 and NIC 07:00.0 (15b3:1021) all in group 20; a
   * separate GPU 0a:00.0 alone in group 21.
   */
  public static Topology noAcsSwitch() {
    return new TestHost("switch without ACS")
        .bridge("0000:02:01.0", null, PciePortType.ROOT_PORT, 0)
        .bridge("0000:03:00.0", "0000:02:01.0", PciePortType.SWITCH_UPSTREAM, 0)
        .bridge("0000:04:01.0", "0000:03:00.0", PciePortType.SWITCH_DOWNSTREAM, 0)
        .bridge("0000:04:02.0", "0000:03:00.0", PciePortType.SWITCH_DOWNSTREAM, 0)
        .bridge("0000:04:03.0", "0000:03:00.0", PciePortType.SWITCH_DOWNSTREAM, 0)
        .gpu("0000:05:00.0", "0000:04:01.0", TestHost.H100, 0, 20)
        .gpu("0000:06:00.0", "0000:04:02.0", TestHost.H100, 0, 20)
        .endpoint("0000:07:00.0", "0000:04:03.0", TestHost.CX7, 0x020000, 0, 20, "mlx5_core")
        .bridge("0000:09:01.0", null, PciePortType.ROOT_PORT, 0)
        .gpu("0000:0a:00.0", "0000:09:01.0", TestHost.H100, 0, 21)
        .build();
  }

  /**
   * An AMD-style group: host bridge 40:03.0 (class 0x0600) and GPP bridge 40:03.1 (0x0604) share
   * group 44 with GPU 41:00.0.
   */
  public static Topology amdBridgesInGroup() {
    return new TestHost("AMD host")
        .endpoint("0000:40:03.0", null, new io.gpuvirt.core.pci.PciId(0x1022, 0x14a4), 0x060000, 0,
            44, null)
        .bridge("0000:40:03.1", null, PciePortType.ROOT_PORT, 0).inGroup("0000:40:03.1", 44)
        .gpu("0000:41:00.0", "0000:40:03.1", TestHost.H100, 0, 44)
        .build();
  }

  /** An NVSwitch (10de:22a3, class 0x0680) in the same group 60 as GPU 18:00.0. */
  public static Topology nvSwitchInGpuGroup() {
    return new TestHost("HGX H200 without ACS")
        .bridge("0000:16:01.0", null, PciePortType.ROOT_PORT, 0)
        .bridge("0000:17:00.0", "0000:16:01.0", PciePortType.SWITCH_UPSTREAM, 0)
        .bridge("0000:18:00.0", "0000:17:00.0", PciePortType.SWITCH_DOWNSTREAM, 0)
        .bridge("0000:18:01.0", "0000:17:00.0", PciePortType.SWITCH_DOWNSTREAM, 0)
        .gpu("0000:19:00.0", "0000:18:00.0", TestHost.H100, 0, 60)
        .endpoint("0000:1a:00.0", "0000:18:01.0", new io.gpuvirt.core.pci.PciId(0x10de, 0x22a3),
            0x068000, 0, 60, "nvidia-nvswitch")
        .build();
  }

  /**
   * SR-IOV: PF 81:00.0 (group 30) with 4 VFs 81:00.1-81:00.4 enabled (groups 31-34); PF 82:00.0
   * (group 40) without VFs.
   */
  public static Topology sriov() {
    return new TestHost("SR-IOV host")
        .bridge("0000:80:01.0", null, PciePortType.ROOT_PORT, 1)
        .sriovGpu("0000:81:00.0", "0000:80:01.0", 1, 30, 4, 31)
        .bridge("0000:80:02.0", null, PciePortType.ROOT_PORT, 1)
        .sriovGpu("0000:82:00.0", "0000:80:02.0", 1, 40, 0, 41)
        .build();
  }

  /**
   * A host with {@code gpus} GPUs 10de:2330 in groups 1..gpus, four per PCIe switch, switches
   * alternating between NUMA nodes 0 and 1.
   */
  public static Topology large(int gpus) {
    TestHost h = new TestHost("host with " + gpus + " GPUs");
    int bus = 0x04;
    for (int i = 0; i < gpus; i += 4) {
      int numa = (i / 4) % 2;
      String rp = String.format("0000:%02x:01.0", bus);
      String usp = String.format("0000:%02x:00.0", bus + 1);
      h.bridge(rp, null, PciePortType.ROOT_PORT, numa)
          .bridge(usp, rp, PciePortType.SWITCH_UPSTREAM, numa);
      for (int j = 0; j < 4 && i + j < gpus; j++) {
        String dsp = String.format("0000:%02x:%02x.0", bus + 2, j);
        h.bridge(dsp, usp, PciePortType.SWITCH_DOWNSTREAM, numa)
            .gpu(String.format("0000:%02x:00.0", bus + 3 + j), dsp, TestHost.H100, numa, i + j + 1);
      }
      bus += 8;
    }
    return h.build();
  }
}
