package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.vfio.DeviceBinding;
import io.gpuvirt.core.vfio.StoredBinding;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;

/**
 * Converts the bindings gpuvirt 0.1's {@code gpuvirt bind} kept in {@code bindings.json} into leases
 * of origin {@link LeaseOrigin#BIND}: one lease per IOMMU group, owned by
 * {@link LeaseLedger#bindOwner} of the group's first device, holding every device the file lists for
 * the group (and the group's bridges, which stay on the host). A group whose bind finished becomes a
 * {@code BOUND} lease; one whose bind was interrupted a {@code BINDING} lease, which recovery rolls
 * back. Each device keeps the driver, driver_override and VFIO driver the file recorded; a device
 * that was already on the VFIO driver before the bind stays there when the lease ends.
 *
 * <p>Deterministic and idempotent: converting the same file again adds nothing (a group or owner
 * already leased is skipped), so a crash between writing the ledger and renaming the old file is
 * harmless. What the file does not say (ids, class, BARs, NUMA) is read from the host; a device the
 * host no longer has is kept with id ffff:ffff (what a read of an absent device returns), so that
 * reconcile reports it missing.
 */
final class LegacyBindings {
  static final String REASON = "converted from bindings.json, kept by gpuvirt bind of an earlier"
      + " release";

  private LegacyBindings() {}

  /** Adds the leases for {@code bindings} to {@code leases}; returns how many it added. */
  static int convert(List<StoredBinding> bindings, Topology topology,
      TreeMap<String, Lease> leases, Instant now) {
    Set<PciAddress> leased = new HashSet<>();
    Set<Integer> leasedGroups = new HashSet<>();
    leases.values().forEach(l -> {
      l.devices().forEach(d -> leased.add(d.address()));
      leasedGroups.addAll(l.groupNumbers());
    });
    TreeMap<Integer, List<StoredBinding>> byGroup = new TreeMap<>();
    bindings.forEach(s -> byGroup.computeIfAbsent(s.binding().iommuGroup(), g -> new ArrayList<>())
        .add(s));
    int added = 0;
    for (Map.Entry<Integer, List<StoredBinding>> e : byGroup.entrySet()) {
      List<StoredBinding> group = e.getValue();
      group.sort((a, b) -> a.binding().address().compareTo(b.binding().address()));
      String owner = LeaseLedger.bindOwner(group.get(0).binding().address());
      if (leases.containsKey(owner) || leasedGroups.contains(e.getKey())
          || group.stream().anyMatch(s -> leased.contains(s.binding().address()))) {
        continue;
      }
      leases.put(owner, lease(owner, e.getKey(), group, topology, now));
      added++;
    }
    return added;
  }

  private static Lease lease(String owner, int number, List<StoredBinding> group,
      Topology topology, Instant now) {
    List<LeasedDevice> devices = new ArrayList<>();
    List<PciAddress> addresses = new ArrayList<>();
    boolean interrupted = false;
    for (StoredBinding s : group) {
      DeviceBinding b = s.binding();
      interrupted |= s.phase() == StoredBinding.Phase.BINDING;
      addresses.add(b.address());
      Optional<PciDevice> host = topology.device(b.address());
      Optional<String> original = b.boundByGpuvirt() ? b.originalDriver() : Optional.of(b.driver());
      devices.add(new LeasedDevice(b.address(), DeviceRole.REQUESTED,
          host.map(PciDevice::id).orElse(new PciId(0xffff, 0xffff)),
          host.map(PciDevice::subsystem).orElse(new PciId(0xffff, 0xffff)),
          host.map(PciDevice::pciClass).orElse(new PciClass(0xffffff)),
          host.map(PciDevice::numaNode).orElse(-1), original, b.originalOverride(),
          host.map(PciDevice::bars).orElse(List.of()),
          host.flatMap(PciDevice::physicalFunction), OptionalInt.empty(),
          Optional.of(b.driver()), Optional.empty()));
    }
    Optional<IommuGroup> hostGroup = topology.iommuGroup(number);
    if (hostGroup.isPresent()) {
      for (PciDevice member : topology.members(hostGroup.get())) {
        if (member.isBridge() && !addresses.contains(member.address())) {
          devices.add(LeasedDevice.of(member, DeviceRole.BRIDGE, OptionalInt.empty()));
        }
      }
    }
    AllocationRequest request = AllocationRequest.builder(owner).count(addresses.size())
        .selector(DeviceSelector.parse(String.join(",",
            addresses.stream().map(PciAddress::toString).toList())))
        .build();
    return new Lease(owner, LeaseOrigin.BIND, interrupted ? LeaseState.BINDING : LeaseState.BOUND,
        request, List.of(new LeasedGroup(number, devices)), OptionalInt.empty(),
        List.of(REASON), now);
  }
}
