package io.gpuvirt.testkit;

import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Sriov;
import io.gpuvirt.core.pci.Topology;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * The {@link Topology} a profile's tree reads back as at boot, following the field contract of
 * {@code TopologyScanner} (parent from the directory nesting, driver from the {@code driver} link,
 * BARs from {@code resource}, port type from config space, ...).
 */
final class ExpectedTopology {
  private ExpectedTopology() {}

  static Topology of(HostProfile profile, String source) {
    Map<PciAddress, DeviceSpec> byAddress = new HashMap<>();
    profile.devices().forEach(d -> byAddress.put(d.address(), d));
    List<PciDevice> devices = new ArrayList<>();
    Map<Integer, List<PciAddress>> groups = new TreeMap<>();
    int nextGroup = profile.devices().stream().filter(d -> d.iommuGroup().isPresent())
        .mapToInt(d -> d.iommuGroup().getAsInt()).max().orElse(-1) + 1;
    for (DeviceSpec d : profile.devices()) {
      String rootBus = rootBus(d, byAddress);
      PciDevice.Builder b = common(d, profile, rootBus).busRange(d.busRange().orElse(null))
          .label(d.label().orElse(null));
      d.iommuGroup().ifPresent(g -> groups.computeIfAbsent(g, k -> new ArrayList<>())
          .add(d.address()));
      if (d.sriov().isPresent()) {
        DeviceSpec.SriovSpec s = d.sriov().get();
        List<PciAddress> vfs = new ArrayList<>();
        for (int i = 0; i < s.enabledVfs(); i++) {
          OptionalInt group = d.iommuGroup().isPresent() ? OptionalInt.of(nextGroup++)
              : OptionalInt.empty();
          DeviceSpec vf = HostTree.vfSpec(d, i, group);
          vfs.add(vf.address());
          group.ifPresent(g -> groups.computeIfAbsent(g, k -> new ArrayList<>())
              .add(vf.address()));
          devices.add(common(vf, profile, rootBus).physicalFunction(d.address()).build());
        }
        b.sriov(new Sriov(s.totalVfs(), s.enabledVfs(), vfs));
      }
      devices.add(b.build());
    }
    Map<Integer, List<String>> platform = new TreeMap<>();
    profile.platformDevices().forEach((name, g) -> {
      groups.computeIfAbsent(g, k -> new ArrayList<>());
      platform.computeIfAbsent(g, k -> new ArrayList<>()).add(name);
    });
    List<IommuGroup> groupList = new ArrayList<>();
    groups.forEach((n, members) -> groupList.add(new IommuGroup(n, members,
        platform.getOrDefault(n, List.of()))));
    return new Topology(source, devices, groupList);
  }

  private static PciDevice.Builder common(DeviceSpec d, HostProfile profile, String rootBus) {
    PciDevice.Builder b = PciDevice.builder(d.address()).id(d.id()).subsystem(d.subsystem())
        .pciClass(d.pciClass()).revision(d.revision())
        .driver(d.driver().filter(profile.drivers()::contains).orElse(null))
        .numaNode(d.numaNode()).bars(d.bars()).parent(d.parent().orElse(null)).rootBus(rootBus)
        .portType(d.portType().orElse(null)).resettable(d.resettable());
    if (d.iommuGroup().isPresent()) {
      b.iommuGroup(d.iommuGroup().getAsInt());
    }
    return b;
  }

  static String rootBus(DeviceSpec d, Map<PciAddress, DeviceSpec> byAddress) {
    DeviceSpec top = d;
    while (top.parent().isPresent()) {
      top = byAddress.get(top.parent().get());
    }
    return String.format("%04x:%02x", top.address().domain(), top.address().bus());
  }
}
