package io.gpuvirt.core.alloc;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * Builds small host topologies for core's tests (core cannot use the testkit): devices by BDF and
 * parent, IOMMU groups from each device's group number; root buses and bridge bus ranges are derived.
 */
public final class TestHost {
  public static final PciId B200 = new PciId(0x10de, 0x2901);
  public static final PciId H100 = new PciId(0x10de, 0x2330);
  public static final PciId AUDIO = new PciId(0x10de, 0x22bc);
  public static final PciId CX7 = new PciId(0x15b3, 0x1021);
  public static final PciId SWITCH = new PciId(0x1000, 0xc030);

  private final String source;
  private final Map<PciAddress, PciDevice.Builder> devices = new LinkedHashMap<>();
  private final Map<PciAddress, PciAddress> parents = new LinkedHashMap<>();

  public TestHost(String source) {
    this.source = source;
  }

  /** A bridge (root port, switch port) with no IOMMU group unless {@link #inGroup} gives one. */
  public TestHost bridge(String bdf, String parent, PciePortType type, int numa) {
    PciDevice.Builder b = PciDevice.builder(PciAddress.parse(bdf)).id(SWITCH)
        .pciClass(new PciClass(0x060400)).portType(type).numaNode(numa).driver("pcieport");
    return add(b, parent);
  }

  /** A data-centre GPU with realistic BARs, on {@code nvidia}. */
  public TestHost gpu(String bdf, String parent, PciId id, int numa, int group) {
    PciDevice.Builder b = PciDevice.builder(PciAddress.parse(bdf)).id(id)
        .subsystem(new PciId(0x10de, 0x1999)).pciClass(new PciClass(0x030200)).revision(0xa1)
        .driver("nvidia").numaNode(numa).iommuGroup(group).portType(PciePortType.ENDPOINT)
        .resettable(true)
        .addBar(new Bar(0, 0x9000_0000L, 64L << 20, true, false, false))
        .addBar(new Bar(2, 0x200_0000_0000L, 256L << 30, true, true, false))
        .addBar(new Bar(4, 0x300_0000_0000L, 32L << 20, true, true, false));
    return add(b, parent);
  }

  /** Any endpoint. */
  public TestHost endpoint(String bdf, String parent, PciId id, int classCode, int numa,
      int group, String driver) {
    PciDevice.Builder b = PciDevice.builder(PciAddress.parse(bdf)).id(id)
        .pciClass(new PciClass(classCode)).numaNode(numa).iommuGroup(group).driver(driver)
        .portType(PciePortType.ENDPOINT).addBar(new Bar(0, 0xa000_0000L, 1L << 20, false, false, false));
    return add(b, parent);
  }

  /** An SR-IOV physical function with {@code vfs} enabled VFs, each in its own group from {@code firstVfGroup}. */
  public TestHost sriovGpu(String pfBdf, String parent, int numa, int pfGroup, int vfs,
      int firstVfGroup) {
    PciAddress pf = PciAddress.parse(pfBdf);
    List<PciAddress> vfAddresses = new ArrayList<>();
    for (int i = 1; i <= vfs; i++) {
      int slot = pf.device() * 8 + pf.function() + i;
      vfAddresses.add(new PciAddress(pf.domain(), pf.bus(), slot / 8, slot % 8));
    }
    gpu(pfBdf, parent, H100, numa, pfGroup);
    modify(pfBdf, b -> b.sriov(new Sriov(Math.max(vfs, 16), vfs, vfAddresses)));
    for (int i = 0; i < vfs; i++) {
      PciDevice.Builder vf = PciDevice.builder(vfAddresses.get(i)).id(new PciId(0x10de, 0x2331))
          .pciClass(new PciClass(0x030200)).numaNode(numa).iommuGroup(firstVfGroup + i)
          .physicalFunction(pf).driver("nvidia")
          .addBar(new Bar(0, 0x9100_0000L + (long) i * 0x100000, 1L << 20, true, false, false));
      add(vf, parent);
    }
    return this;
  }

  /** Puts an existing device (a bridge, say) into an IOMMU group. */
  public TestHost inGroup(String bdf, int group) {
    return modify(bdf, b -> b.iommuGroup(group));
  }

  /** Changes a device. */
  public TestHost modify(String bdf, UnaryOperator<PciDevice.Builder> change) {
    PciAddress a = PciAddress.parse(bdf);
    PciDevice.Builder b = devices.get(a);
    if (b == null) {
      throw new IllegalArgumentException("no device " + bdf);
    }
    devices.put(a, change.apply(b));
    return this;
  }

  private TestHost add(PciDevice.Builder b, String parent) {
    PciDevice probe = b.build();
    if (devices.put(probe.address(), b) != null) {
      throw new IllegalArgumentException("device " + probe.address() + " added twice");
    }
    if (parent != null) {
      PciAddress p = PciAddress.parse(parent);
      if (!devices.containsKey(p)) {
        throw new IllegalArgumentException("parent " + parent + " of " + probe.address() + " unknown");
      }
      b.parent(p);
      parents.put(probe.address(), p);
    }
    return this;
  }

  /** The snapshot: root buses and bridge bus ranges derived, groups from the devices' numbers. */
  public Topology build() {
    Map<PciAddress, int[]> ranges = new TreeMap<>();
    for (PciAddress a : devices.keySet()) {
      PciAddress p = parents.get(a);
      while (p != null) {
        int[] r = ranges.computeIfAbsent(p, k -> new int[] {0xff, 0});
        r[0] = Math.min(r[0], a.bus());
        r[1] = Math.max(r[1], a.bus());
        p = parents.get(p);
      }
    }
    List<PciDevice> built = new ArrayList<>();
    TreeMap<Integer, List<PciAddress>> groups = new TreeMap<>();
    for (Map.Entry<PciAddress, PciDevice.Builder> e : devices.entrySet()) {
      PciAddress top = e.getKey();
      while (parents.containsKey(top)) {
        top = parents.get(top);
      }
      PciDevice.Builder b = e.getValue().rootBus(top.busId());
      int[] r = ranges.get(e.getKey());
      if (r != null) {
        b.busRange(new BusRange(r[0], r[1]));
      } else if (b.build().pciClass().isHostOrPciBridge()
          && b.build().pciClass().baseAndSub() == PciClass.PCI_BRIDGE) {
        b.busRange(new BusRange(Math.min(0xff, e.getKey().bus() + 1),
            Math.min(0xff, e.getKey().bus() + 1)));
      }
      PciDevice d = b.build();
      built.add(d);
      d.iommuGroup().ifPresent(g -> groups.computeIfAbsent(g, k -> new ArrayList<>())
          .add(d.address()));
    }
    List<IommuGroup> groupList = new ArrayList<>();
    groups.forEach((n, members) -> groupList.add(new IommuGroup(n, members)));
    return new Topology(source, built, groupList);
  }

  /** The device being built at {@code bdf}, as it would be built now. */
  public Optional<PciDevice> peek(String bdf) {
    return Optional.ofNullable(devices.get(PciAddress.parse(bdf))).map(PciDevice.Builder::build);
  }
}
