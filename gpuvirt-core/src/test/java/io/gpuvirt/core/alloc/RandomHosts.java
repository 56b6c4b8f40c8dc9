package io.gpuvirt.core.alloc;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded random hosts for property tests: 1-3 NUMA nodes (or none reported), root buses with root
 * ports, GPUs directly on root ports or behind switches with and without ACS, HDMI-audio companions,
 * AMD-style bridges inside GPU groups, NICs and NVSwitches, SR-IOV PFs with and without VFs.
 */
public final class RandomHosts {
  private RandomHosts() {}

  /**
   * A generated host.
   *
   * @param topology the host
   * @param foreign endpoints that are not GPUs (candidates for allowForeign)
   */
  public record RandomHost(Topology topology, List<PciAddress> foreign) {}

  /** The host of {@code seed}. */
  public static RandomHost generate(long seed) {
    return new Generator(new SplittableRandom(seed), "random host, seed " + seed).run();
  }

  /**
   * A host with {@code vfCount} SR-IOV virtual functions (GPUs 10de:2331, each its own group) on
   * PFs of up to 63 VFs, spread over 2 NUMA nodes and a switch per PF; for benchmarks.
   */
  public static Topology sriovHost(long seed, int vfCount) {
    SplittableRandom rnd = new SplittableRandom(seed);
    TestHost h = new TestHost("SR-IOV host with " + vfCount + " VFs");
    int bus = 0x10;
    int group = 1;
    int pf = 0;
    while (vfCount > 0) {
      int vfs = Math.min(63, vfCount);
      vfCount -= vfs;
      int numa = pf % 2;
      String rp = String.format("0000:%02x:01.0", bus);
      String usp = String.format("0000:%02x:00.0", bus + 1);
      String dsp = String.format("0000:%02x:00.0", bus + 2);
      h.bridge(rp, null, PciePortType.ROOT_PORT, numa)
          .bridge(usp, rp, PciePortType.SWITCH_UPSTREAM, numa)
          .bridge(dsp, usp, PciePortType.SWITCH_DOWNSTREAM, numa)
          .sriovGpu(String.format("0000:%02x:00.0", bus + 3), dsp, numa, group, vfs, group + 1);
      group += vfs + 1;
      bus += 4;
      pf++;
      if (rnd.nextInt(3) == 0) {
        bus += 1;
      }
    }
    return h.build();
  }

  private static final class Generator {
    private final SplittableRandom rnd;
    private final TestHost host;
    private final List<PciAddress> foreign = new ArrayList<>();
    private int bus = 1;
    private int group = 1;

    Generator(SplittableRandom rnd, String source) {
      this.rnd = rnd;
      this.host = new TestHost(source);
    }

    RandomHost run() {
      int nodes = 1 + rnd.nextInt(3);
      boolean noAffinity = rnd.nextInt(6) == 0;
      for (int node = 0; node < nodes; node++) {
        int numa = noAffinity ? -1 : node;
        for (int rb = 1 + rnd.nextInt(2); rb > 0; rb--) {
          int rootBus = bus++;
          for (int port = 1 + rnd.nextInt(3); port > 0; port--) {
            String rp = String.format("0000:%02x:%02x.0", rootBus, port);
            host.bridge(rp, null, PciePortType.ROOT_PORT, numa);
            populate(rp, numa);
          }
        }
      }
      return new RandomHost(host.build(), List.copyOf(foreign));
    }

    private PciId gpuId() {
      return rnd.nextBoolean() ? TestHost.B200 : TestHost.H100;
    }

    private void populate(String rootPort, int numa) {
      int kind = rnd.nextInt(10);
      if (kind < 4) {
        String gpu = String.format("0000:%02x:00.0", bus++);
        int g = group++;
        host.gpu(gpu, rootPort, gpuId(), numa, g);
        if (rnd.nextInt(10) < 3) {
          host.endpoint(gpu.substring(0, gpu.length() - 1) + "1", rootPort, TestHost.AUDIO,
              0x040300, numa, g, "snd_hda_intel");
        }
        if (rnd.nextInt(10) == 0) {
          host.inGroup(rootPort, g);
        }
      } else if (kind < 8) {
        String usp = String.format("0000:%02x:00.0", bus++);
        host.bridge(usp, rootPort, PciePortType.SWITCH_UPSTREAM, numa);
        int dspBus = bus++;
        boolean acs = rnd.nextInt(4) != 0;
        int shared = group++;
        for (int i = 0, n = 2 + rnd.nextInt(3); i < n; i++) {
          String dsp = String.format("0000:%02x:%02x.0", dspBus, i);
          host.bridge(dsp, usp, PciePortType.SWITCH_DOWNSTREAM, numa);
          String ep = String.format("0000:%02x:00.0", bus++);
          int g = acs ? group++ : shared;
          if (rnd.nextInt(100) < 15) {
            host.endpoint(ep, dsp, TestHost.CX7, 0x020000, numa, g, "mlx5_core");
            foreign.add(PciAddress.parse(ep));
          } else {
            host.gpu(ep, dsp, gpuId(), numa, g);
          }
        }
      } else if (kind == 8) {
        int vfs = rnd.nextInt(5);
        host.sriovGpu(String.format("0000:%02x:00.0", bus++), rootPort, numa, group, vfs,
            group + 1);
        group += vfs + 1;
      } else {
        String ep = String.format("0000:%02x:00.0", bus++);
        if (rnd.nextBoolean()) {
          host.endpoint(ep, rootPort, TestHost.CX7, 0x020000, numa, group++, "mlx5_core");
        } else {
          host.endpoint(ep, rootPort, new PciId(0x10de, 0x22a3), 0x068000, numa, group++,
              "nvidia-nvswitch");
        }
        foreign.add(PciAddress.parse(ep));
      }
    }
  }
}
