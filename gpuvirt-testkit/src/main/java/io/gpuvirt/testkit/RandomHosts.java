package io.gpuvirt.testkit;

import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.BusRange;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.PciePortType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.random.RandomGenerator;

/**
 * Seeded generator of random hosts for property-based tests. The same seed gives the same host,
 * so a failure replays from the seed alone:
 *
 * <pre>{@code
 * for (long seed = 0; seed < 200; seed++) {
 *   HostProfile p = RandomHosts.profile(new SplittableRandom(seed));
 *   try (SimulatedHost host = SimulatedHost.create(p)) {
 *     assertEquals(host.expectedTopology().devices(), scan(host.sysfs()).devices(), "seed " + seed);
 *   }
 * }
 * }</pre>
 *
 * <p>A random host has 0 to 16 GPUs (some consumer GPUs with an HDMI audio function), NVSwitch-like
 * 0x0680 endpoints, NICs (some SR-IOV physical functions with VFs enabled), NVMe drives, grouped
 * behind 0 to 3 levels of PCIe switches under root ports on one or more root buses (some in a
 * second PCI domain, a few endpoints directly on a root bus); NUMA layouts with and without
 * affinity (-1); IOMMU groups one per device, or shared behind a switch or root port without ACS;
 * the IOMMU off now and then; some default drivers not loaded. Every profile it returns passes
 * {@link HostProfile.Builder#build()}'s checks, so it writes a valid tree.
 */
public final class RandomHosts {
  private RandomHosts() {}

  /** A random host profile drawn from {@code random}. */
  public static HostProfile profile(RandomGenerator random) {
    Objects.requireNonNull(random, "random");
    return new Generator(random).generate();
  }

  /** What one physical slot holds: one function, or several (a GPU and its audio function). */
  private record Unit(List<DeviceSpec.Builder> functions, boolean sriovCapable) {}

  private static final class Generator {
    private final RandomGenerator rnd;
    private final List<DeviceSpec.Builder> ordered = new ArrayList<>();
    private final List<Set<PciAddress>> sharedGroups = new ArrayList<>();
    private final Set<String> usedDrivers = new TreeSet<>();
    private int domain;
    private int nextBus;
    private long mem32 = 0x8000_0000L;
    private long pref64 = 0x100_0000_0000L;
    private long io = 0x1000;
    private final int numaMode;

    Generator(RandomGenerator rnd) {
      this.rnd = rnd;
      this.numaMode = rnd.nextInt(4);
    }

    HostProfile generate() {
      List<Unit> units = new ArrayList<>();
      int gpus = rnd.nextInt(17);
      boolean consumer = rnd.nextInt(4) == 0;
      List<Integer> moduleIds = new ArrayList<>();
      for (int i = 1; i <= gpus; i++) {
        moduleIds.add(i);
      }
      Collections.shuffle(moduleIds, new Random(rnd.nextLong()));
      boolean withModuleIds = !consumer && gpus >= 2 && rnd.nextInt(10) < 7;
      for (int i = 0; i < gpus; i++) {
        units.add(gpu(consumer, withModuleIds ? OptionalInt.of(moduleIds.get(i)) : OptionalInt.empty(), i));
      }
      int nvSwitches = rnd.nextInt(3) == 0 ? 1 + rnd.nextInt(4) : 0;
      for (int i = 0; i < nvSwitches; i++) {
        units.add(single(nvSwitch()));
      }
      int nics = rnd.nextInt(4);
      for (int i = 0; i < nics; i++) {
        units.add(nic());
      }
      int drives = rnd.nextInt(3);
      for (int i = 0; i < drives; i++) {
        units.add(single(DeviceSpec.builder(PLACEHOLDER).id(Presets.PM9A3)
            .subsystem(new PciId(0x144d, 0xa812)).pciClass(Presets.NVME)
            .addBar(Presets.mem64(0, 0, 16 * Presets.K)).driver("nvme").resettable(true)));
      }
      Collections.shuffle(units, new Random(rnd.nextLong()));

      // Root bus 00 always exists with its host bridge.
      int rootBusCount = 1 + rnd.nextInt(4);
      List<List<Unit>> perRootBus = new ArrayList<>();
      for (int i = 0; i < rootBusCount; i++) {
        perRootBus.add(new ArrayList<>());
      }
      for (Unit u : units) {
        perRootBus.get(rnd.nextInt(rootBusCount)).add(u);
      }
      for (int r = 0; r < rootBusCount; r++) {
        if (r > 0 && rnd.nextInt(10) == 0) {
          domain++;
          nextBus = 0;
        } else if (r > 0) {
          nextBus += rnd.nextInt(8);
        }
        buildRootBus(r, perRootBus.get(r));
      }

      boolean iommu = rnd.nextInt(10) != 0;
      List<DeviceSpec> devices = numberGroups(iommu);
      HostProfile.Builder b = HostProfile.builder().name("random")
          .cmdline("BOOT_IMAGE=/boot/vmlinuz-6.8.0-60-generic ro"
              + (iommu ? (rnd.nextBoolean() ? " intel_iommu=on" : " amd_iommu=on")
                  + (rnd.nextBoolean() ? " iommu=pt" : "") : ""));
      for (String d : usedDrivers) {
        if (!d.equals("nvidia") || rnd.nextInt(10) != 0) {
          b.loadDriver(d);
        }
      }
      b.loadDriver("pcieport");
      if (rnd.nextInt(5) != 0) {
        b.loadDriver("vfio-pci").loadModule("vfio").loadModule("vfio_iommu_type1");
      }
      if (rnd.nextInt(10) < 3) {
        b.fabricMode(rnd.nextInt(3));
      }
      devices.forEach(b::device);
      return b.build();
    }

    private static final PciAddress PLACEHOLDER = new PciAddress(0, 0, 0, 0);

    private Unit single(DeviceSpec.Builder b) {
      return new Unit(List.of(b), false);
    }

    private Unit gpu(boolean consumer, OptionalInt moduleId, int index) {
      String driver = pick("nvidia", "nvidia", "nvidia", "vfio-pci", null);
      long big = pickSize(256 * Presets.M, Presets.G, 16 * Presets.G, 64 * Presets.G,
          128 * Presets.G, 256 * Presets.G);
      if (consumer) {
        DeviceSpec.Builder vga = GpuModel.RTX4000_ADA.device(PLACEHOLDER,
            GpuModel.RTX4000_ADA.bars(0, 0, big)).driver(driver).resettable(true);
        if (rnd.nextInt(10) < 7) {
          DeviceSpec.Builder audio = DeviceSpec.builder(PLACEHOLDER)
              .id(new PciId(0x10de, 0x22bc)).subsystem(new PciId(0x10de, 0x16fa))
              .pciClass(Presets.AUDIO).revision(0xa1).addBar(Presets.mem32(0, 0, 16 * Presets.K))
              .driver("snd_hda_intel");
          return new Unit(List.of(vga, audio), false);
        }
        return single(vga);
      }
      GpuModel model = pick(GpuModel.B200, GpuModel.H100_SXM5, GpuModel.H100_PCIE);
      DeviceSpec.Builder g = model.device(PLACEHOLDER, model.bars(0, 0, big))
          .driver(driver).resettable(rnd.nextInt(10) != 0);
      moduleId.ifPresent(g::moduleId);
      if (rnd.nextBoolean()) {
        g.label("#GPU" + index);
      }
      return single(g);
    }

    private DeviceSpec.Builder nvSwitch() {
      return DeviceSpec.builder(PLACEHOLDER).id(pick(Presets.H100_NVSWITCH,
          new PciId(0x10de, 0x1af1))).subsystem(new PciId(0x10de, 0x1796))
          .pciClass(Presets.NVSWITCH).revision(0xa1).addBar(Presets.mem32(0, 0, 32 * Presets.M))
          .driver("nvidia-nvswitch").resettable(true);
    }

    private Unit nic() {
      int kind = rnd.nextInt(3);
      if (kind == 2) {
        return single(DeviceSpec.builder(PLACEHOLDER).id(new PciId(0x8086, 0x125c))
            .subsystem(new PciId(0x8086, 0)).pciClass(Presets.ETHERNET).revision(4)
            .addBar(Presets.mem32(0, 0, Presets.M)).addBar(Presets.mem32(3, 0, 16 * Presets.K))
            .driver("igc").resettable(true));
      }
      PciId id = kind == 0 ? Presets.CONNECTX7 : Presets.CONNECTX6DX;
      DeviceSpec.Builder b = DeviceSpec.builder(PLACEHOLDER).id(id)
          .subsystem(new PciId(0x15b3, 0x0026))
          .pciClass(kind == 0 ? Presets.INFINIBAND : Presets.ETHERNET)
          .addBar(Presets.pref64(0, 0, 32 * Presets.M)).driver("mlx5_core").resettable(true);
      return new Unit(List.of(b), true);
    }

    @SafeVarargs
    private <T> T pick(T... choices) {
      return choices[rnd.nextInt(choices.length)];
    }

    private long pickSize(long... choices) {
      return choices[rnd.nextInt(choices.length)];
    }

    private int numa(int rootBusIndex) {
      switch (numaMode) {
        case 0:
          return -1;
        case 1:
          return 0;
        case 2:
          return rootBusIndex % 2;
        default:
          return (int) ((Integer.toUnsignedLong(rootBusIndex * 0x9e3779b9) >>> 7) % 5) - 1;
      }
    }

    private void buildRootBus(int index, List<Unit> units) {
      if (nextBus > 0xe0) {
        domain++;
        nextBus = 0;
      }
      int numa = numa(index);
      int rootBus = startRootBus(numa);
      int slot = 1;
      List<Unit> pending = new ArrayList<>(units);
      while (!pending.isEmpty()) {
        if (nextBus > 0xe0 || slot > 0x0f) {
          // No room for another cluster (at most 20 buses) here: go on in a new domain.
          domain++;
          nextBus = 0;
          rootBus = startRootBus(numa);
          slot = 1;
        }
        int size = Math.min(pending.size(), 1 + rnd.nextInt(4));
        List<Unit> cluster = new ArrayList<>(pending.subList(0, size));
        pending.subList(0, size).clear();
        if (size == 1 && !cluster.get(0).sriovCapable() && rnd.nextInt(8) == 0) {
          // An endpoint directly on the root bus, as in a flat guest.
          placeUnit(cluster.get(0), rootBus, 0x10 + slot, null, numa, null);
          slot++;
          continue;
        }
        int depth = size > 1 ? 1 + rnd.nextInt(3) : rnd.nextInt(4);
        int sharing = rnd.nextInt(10);
        boolean rootPortShares = sharing < 2;
        boolean switchShares = !rootPortShares && sharing < 4 && depth > 0;
        Set<PciAddress> shared = rootPortShares || switchShares ? new HashSet<>() : null;
        PciAddress rp = at(rootBus, slot++, 0);
        int rpIndex = add(rp, Presets.bridge(rp, null, Presets.XEON_ROOT_PORT, PciePortType.ROOT_PORT,
            0, 0, numa).acs(!rootPortShares), rootPortShares ? shared : null);
        int secondary = nextBus++;
        if (depth == 0) {
          placeUnit(cluster.get(0), secondary, 0, rp, numa, shared);
        } else {
          buildSwitch(secondary, rp, cluster, depth, numa, shared, rootPortShares);
        }
        spare();
        setRange(rpIndex, secondary, nextBus - 1);
        if (shared != null) {
          sharedGroups.add(shared);
        }
      }
    }

    /** Starts a root bus at the next free bus number; bus 00 gets a host bridge. */
    private int startRootBus(int numa) {
      int rootBus = nextBus++;
      if (rootBus == 0) {
        add(at(rootBus, 0, 0), DeviceSpec.builder(at(rootBus, 0, 0)).id(Presets.XEON_HOST)
            .subsystem(Presets.XEON_HOST).pciClass(Presets.HOST_BRIDGE).portType(null)
            .numaNode(numa), null);
      }
      return rootBus;
    }

    /**
     * A switch on {@code bus} below {@code parent}, nested {@code depth - 1} more levels; the last
     * level has a downstream port per unit (and now and then an empty one). With {@code shared},
     * the last level's ports lack ACS (they and what is behind them share a group); with
     * {@code rootPortShares} everything below the root port shares it.
     */
    private void buildSwitch(int bus, PciAddress parent, List<Unit> cluster, int depth, int numa,
        Set<PciAddress> shared, boolean rootPortShares) {
      PciAddress up = at(bus, 0, 0);
      PciId chip = pick(Presets.PEX890XX, Presets.PEX880XX);
      int upIndex = add(up, Presets.bridge(up, parent, chip, PciePortType.SWITCH_UPSTREAM, 0, 0, numa),
          rootPortShares ? shared : null);
      int internal = nextBus++;
      boolean last = depth == 1;
      int ports = last ? cluster.size() + (rnd.nextInt(4) == 0 ? 1 : 0) : 1;
      for (int p = 0; p < ports; p++) {
        PciAddress down = at(internal, p, 0);
        boolean inShared = shared != null && (last || rootPortShares);
        int downIndex = add(down, Presets.bridge(down, up, chip, PciePortType.SWITCH_DOWNSTREAM, 0, 0,
            numa).acs(!(shared != null && last)), inShared ? shared : null);
        int secondary = nextBus++;
        if (!last) {
          buildSwitch(secondary, down, cluster, depth - 1, numa, shared, rootPortShares);
        } else if (p < cluster.size()) {
          placeUnit(cluster.get(p), secondary, 0, down, numa, inShared ? shared : null);
        }
        spare();
        setRange(downIndex, secondary, nextBus - 1);
      }
      setRange(upIndex, internal, nextBus - 1);
    }

    private void spare() {
      if (rnd.nextInt(5) == 0 && nextBus < 0xf8) {
        nextBus++;
      }
    }

    /**
     * Places a unit's functions at {@code bus:device.*}; they join {@code shared}, or a group of
     * their own (one for all functions of a multi-function unit).
     */
    private void placeUnit(Unit unit, int bus, int device, PciAddress parent, int numa,
        Set<PciAddress> shared) {
      Set<PciAddress> unitGroup = unit.functions().size() > 1 && shared == null
          ? new HashSet<>() : shared;
      for (int fn = 0; fn < unit.functions().size(); fn++) {
        DeviceSpec t = unit.functions().get(fn).build();
        PciAddress address = at(bus, device, fn);
        DeviceSpec.Builder placed = DeviceSpec.builder(address).parent(parent)
            .id(t.id()).subsystem(t.subsystem()).pciClass(t.pciClass()).revision(t.revision())
            .portType(t.portType().orElse(null)).numaNode(numa).driver(t.driver().orElse(null))
            .resettable(t.resettable()).label(t.label().orElse(null)).bars(t.bars());
        t.moduleId().ifPresent(placed::moduleId);
        t.driver().ifPresent(usedDrivers::add);
        if (unit.sriovCapable() && parent != null && rnd.nextBoolean()) {
          int total = 1 + rnd.nextInt(16);
          placed.sriov(new DeviceSpec.SriovSpec(total, Presets.MLX5_VF, 1, 1,
              Presets.pref64(0, 0, Presets.M), rnd.nextInt(total + 1),
              Optional.of("mlx5_core")));
        }
        add(address, placed, unitGroup);
      }
      if (unitGroup != null && unitGroup != shared) {
        sharedGroups.add(unitGroup);
      }
    }

    private PciAddress at(int bus, int device, int function) {
      return new PciAddress(domain, bus, device, function);
    }

    private int add(PciAddress address, DeviceSpec.Builder b, Set<PciAddress> shared) {
      ordered.add(b);
      if (shared != null) {
        shared.add(address);
      }
      return ordered.size() - 1;
    }

    private void setRange(int index, int secondary, int subordinate) {
      ordered.set(index, ordered.get(index).busRange(new BusRange(secondary, subordinate)));
    }

    /** Assigns BAR addresses in depth-first order (so every subtree is contiguous) and groups. */
    private List<DeviceSpec> numberGroups(boolean iommu) {
      List<DeviceSpec> placed = new ArrayList<>();
      for (DeviceSpec.Builder b : ordered) {
        DeviceSpec d = b.build();
        List<Bar> bars = new ArrayList<>();
        for (Bar bar : d.bars()) {
          if (bar.io() && io + 0x1000 > 0x10000) {
            continue; // I/O space (64K) is used up: firmware leaves the BAR unassigned
          }
          bars.add(new Bar(bar.index(), allocate(bar, bar.size()), bar.size(), bar.is64Bit(),
              bar.prefetchable(), bar.io()));
        }
        DeviceSpec.Builder nb = d.toBuilder().bars(bars);
        if (d.sriov().isPresent()) {
          DeviceSpec.SriovSpec s = d.sriov().get();
          Bar vf = s.vfBar();
          long start = allocate(vf, vf.size() * s.totalVfs());
          nb.sriov(new DeviceSpec.SriovSpec(s.totalVfs(), s.vfDeviceId(), s.firstVfOffset(),
              s.vfStride(), new Bar(0, start, vf.size(), vf.is64Bit(), vf.prefetchable(), false),
              s.enabledVfs(), s.vfDriver()));
        }
        placed.add(nb.build());
      }
      if (!iommu) {
        return placed;
      }
      return Presets.numberGroups(placed.stream().map(DeviceSpec::toBuilder).toList(),
          sharedGroups, rnd.nextInt(3) == 0 ? rnd.nextInt(100) : 0);
    }

    /** Allocates {@code size} bytes for a region of the kind of {@code bar}, size-aligned. */
    private long allocate(Bar bar, long size) {
      if (bar.io()) {
        long align = Math.max(Long.highestOneBit(size), 0x1000);
        long start = roundUp(io, align);
        io = roundUp(start + size, 0x1000);
        return start;
      }
      long align = Math.max(bar.size(), Presets.M);
      if (bar.prefetchable() && bar.is64Bit()) {
        long start = roundUp(pref64, Math.max(align, Long.highestOneBit(size)));
        pref64 = roundUp(start + size, Presets.M);
        return start;
      }
      long start = roundUp(mem32, align);
      mem32 = roundUp(start + size, Presets.M);
      return start;
    }

    private static long roundUp(long v, long align) {
      return (v + align - 1) / align * align;
    }
  }
}
