package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.PartitionTableCheck;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.ledger.Discrepancy.Kind;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.vfio.VfioDrivers;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/** Compares leases with the host and repairs what the policy allows (invariant 4). */
final class Reconciler {
  private final Topology topology;
  private final Optional<FabricManager> fabricManager;
  private final Optional<ModuleIdMap> moduleIds;
  private final ReconcilePolicy policy;
  private final List<Discrepancy> found = new ArrayList<>();

  Reconciler(Topology topology, Optional<FabricManager> fabricManager,
      Optional<ModuleIdMap> moduleIds, ReconcilePolicy policy) {
    this.topology = topology;
    this.fabricManager = fabricManager;
    this.moduleIds = moduleIds;
    this.policy = policy;
  }

  /** Reconciles {@code leases} (changed in place when repairs drop leases). */
  ReconcileReport run(TreeMap<String, Lease> leases) {
    for (Lease lease : List.copyOf(leases.values())) {
      if (lease.state().inFlight()) {
        found.add(new Discrepancy(Kind.INTERRUPTED_OPERATION, lease.owner(),
            Optional.of(lease.owner()), "lease is " + lease.state() + ": a provisioning or"
            + " teardown step was interrupted; run recovery ('gpuvirt recover') to finish or"
            + " undo it", false));
        continue;
      }
      List<Discrepancy> problems = leaseProblems(lease);
      // A lease some of whose devices are still on VFIO may belong to a running VM: dropping it
      // would free those groups for another owner. Only a lease with nothing left bound is dropped.
      long stillBound = lease.passedThroughDevices().stream()
          .filter(d -> topology.device(d.address()).flatMap(PciDevice::driver)
              .filter(VfioDrivers::isVfioDriver).isPresent())
          .count();
      boolean drop = !problems.isEmpty() && policy.dropStaleLeases() && stillBound == 0;
      if (drop) {
        leases.remove(lease.owner());
      }
      String keep = stillBound > 0 && policy.dropStaleLeases()
          ? "; lease kept: " + stillBound + " of its devices are still on a VFIO driver (its VM may"
              + " be running); tear it down with 'gpuvirt teardown --owner " + lease.owner() + "'"
          : "; release the lease if its VM is gone";
      problems.forEach(p -> found.add(new Discrepancy(p.kind(), p.subject(), p.owner(),
          p.detail() + (drop ? "; lease dropped" : keep), drop)));
    }
    Set<PciAddress> leased = new HashSet<>();
    leases.values().forEach(l -> l.devices().forEach(d -> leased.add(d.address())));
    for (PciDevice gpu : topology.gpus()) {
      if (gpu.driver().filter(VfioDrivers::isVfioDriver).isPresent()
          && !leased.contains(gpu.address())) {
        found.add(new Discrepancy(Kind.UNLEASED_VFIO_DEVICE, gpu.address().toString(),
            Optional.empty(), "GPU [" + gpu.id() + "] is bound to " + gpu.driver().get()
            + " but no lease holds it; if no VM uses it, give it back to its driver (clear "
            + "driver_override, unbind, drivers_probe) or allocate it", false));
      }
    }
    moduleIds.ifPresent(this::moduleIdMap);
    fabricManager.ifPresent(fm -> partitions(fm, leases));
    return new ReconcileReport(found);
  }

  /**
   * Why a lease's GPUs are not its partition's, if they are not: the module ids the lease recorded
   * for its GPUs must be the partition's, and (with a module-id map) each must map to its device.
   */
  static Optional<String> partitionMismatch(Lease lease, FabricPartition partition,
      Optional<ModuleIdMap> map) {
    if (lease.groups().isEmpty() && !lease.vgpus().isEmpty()) {
      // a vGPU lease (Fabric Manager vGPU mode): its vGPUs' GPUs must be the partition's
      if (map.isEmpty()) {
        return Optional.empty();
      }
      TreeSet<Integer> gpus = new TreeSet<>();
      for (io.gpuvirt.core.vgpu.VgpuAssignment v : lease.vgpus()) {
        Optional<Integer> m = map.get().moduleId(v.pf());
        if (m.isEmpty()) {
          return Optional.of("the lease holds partition " + partition.id() + " but its vGPU's "
              + "GPU " + v.pf() + " has no module id in the module-id map");
        }
        gpus.add(m.get());
      }
      return gpus.equals(new TreeSet<>(partition.moduleIds())) ? Optional.empty()
          : Optional.of("the lease's vGPUs are on GPU modules " + gpus + ", but its partition "
              + partition.id() + " has GPU modules " + partition.moduleIds());
    }
    TreeSet<Integer> recorded = new TreeSet<>();
    for (LeasedDevice d : lease.requestedDevices()) {
      if (d.moduleId().isEmpty()) {
        return Optional.of("the lease holds partition " + partition.id() + " but its device "
            + d.address() + " has no module id");
      }
      int m = d.moduleId().getAsInt();
      recorded.add(m);
      if (map.isPresent() && !map.get().address(m).equals(Optional.of(d.address()))) {
        return Optional.of("the lease maps GPU module " + m + " to " + d.address()
            + " but the module-id map has " + map.get().address(m).map(Object::toString)
                .orElse("no such module"));
      }
    }
    if (!recorded.equals(new TreeSet<>(partition.moduleIds()))) {
      return Optional.of("the lease holds GPU modules " + recorded + " as partition "
          + partition.id() + ", whose GPU modules are " + partition.moduleIds());
    }
    return Optional.empty();
  }

  private Optional<String> partitionMismatch(Lease lease, FabricPartition partition) {
    return partitionMismatch(lease, partition, moduleIds);
  }

  private List<Discrepancy> leaseProblems(Lease lease) {
    List<Discrepancy> problems = new ArrayList<>();
    Optional<String> owner = Optional.of(lease.owner());
    for (LeasedGroup g : lease.groups()) {
      boolean devicesOk = true;
      for (LeasedDevice d : g.devices()) {
        Optional<PciDevice> now = topology.device(d.address());
        if (now.isEmpty()) {
          problems.add(new Discrepancy(Kind.LEASED_DEVICE_MISSING, d.address().toString(), owner,
              "leased device is not on " + topology.source(), false));
          devicesOk = false;
        } else if (!now.get().id().equals(d.id())) {
          problems.add(new Discrepancy(Kind.LEASED_DEVICE_MISSING, d.address().toString(), owner,
              "leased as [" + d.id() + "] but the host has [" + now.get().id() + "] there", false));
          devicesOk = false;
        }
      }
      if (!devicesOk) {
        continue;
      }
      Set<PciAddress> leasedMembers = new TreeSet<>();
      g.devices().forEach(d -> leasedMembers.add(d.address()));
      Optional<IommuGroup> hostGroup = topology.iommuGroup(g.number());
      if (hostGroup.isEmpty() || !new TreeSet<>(hostGroup.get().members()).equals(leasedMembers)) {
        problems.add(new Discrepancy(Kind.LEASED_GROUP_CHANGED, "IOMMU group " + g.number(), owner,
            "leased with members " + leasedMembers + " but the host's group has "
            + hostGroup.map(h -> h.members().toString()).orElse("no such group"), false));
        continue;
      }
      if (lease.state() == LeaseState.BOUND) {
        for (LeasedDevice d : g.devices()) {
          PciDevice now = topology.require(d.address());
          if (d.role().passedThrough() && now.driver().filter(VfioDrivers::isVfioDriver).isEmpty()) {
            problems.add(new Discrepancy(Kind.LEASED_DEVICE_NOT_ON_VFIO, d.address().toString(),
                owner, "lease is BOUND but the device is on "
                + now.driver().map(x -> "driver " + x).orElse("no driver"), false));
          }
        }
      }
    }
    return problems;
  }

  private void moduleIdMap(ModuleIdMap map) {
    try {
      map.validateAgainst(topology);
    } catch (GpuvirtException e) {
      found.add(new Discrepancy(Kind.MODULE_ID_MAP_INVALID, "module-id map", Optional.empty(),
          e.getMessage(), false));
    }
  }

  private void partitions(FabricManager fm, Map<String, Lease> leases) {
    List<FabricPartition> partitions = fm.listPartitions();
    Map<Integer, String> leasedPartitions = new TreeMap<>();
    leases.values().forEach(l -> l.partitionId().ifPresent(id -> leasedPartitions.put(id,
        l.owner())));
    boolean listingTrusted = true;
    for (PartitionTableCheck.Problem problem : PartitionTableCheck.check(partitions,
        leasedPartitions)) {
      if (problem.kind() == PartitionTableCheck.Kind.LEASED_PARTITION_UNKNOWN) {
        found.add(new Discrepancy(Kind.LEASED_PARTITION_UNKNOWN, "partition "
            + problem.partitionId(), Optional.of(leasedPartitions.get(problem.partitionId())),
            problem.detail(), false));
      } else {
        listingTrusted = false;
        found.add(new Discrepancy(Kind.FABRIC_LISTING_INCONSISTENT, "partition "
            + problem.partitionId(), Optional.empty(), problem.detail(), false));
      }
    }
    Map<Integer, FabricPartition> byId = new TreeMap<>();
    partitions.forEach(p -> byId.putIfAbsent(p.id(), p));
    for (Lease l : leases.values()) {
      if (l.partitionId().isPresent() && byId.containsKey(l.partitionId().getAsInt())) {
        partitionMismatch(l, byId.get(l.partitionId().getAsInt()))
            .ifPresent(detail -> found.add(new Discrepancy(Kind.LEASED_PARTITION_MISMATCH,
                "partition " + l.partitionId().getAsInt(), Optional.of(l.owner()), detail,
                false)));
      }
    }
    for (FabricPartition p : partitions) {
      if (!p.active() || leasedPartitions.containsKey(p.id())) {
        continue;
      }
      String detail = "partition " + p.id() + " (GPU modules " + p.moduleIds()
          + ") is active but no lease holds it";
      boolean repaired = false;
      if (policy.deactivateUnleasedPartitions() && !listingTrusted) {
        detail += "; not deactivated: Fabric Manager's listing contradicts itself";
      } else if (policy.deactivateUnleasedPartitions()) {
        try {
          fm.deactivate(p.id());
          repaired = true;
          detail += "; deactivated";
        } catch (FabricManagerException e) {
          detail += "; deactivating it failed: " + e.getMessage();
        }
      } else {
        detail += "; deactivate it if no VM uses its GPUs";
      }
      found.add(new Discrepancy(Kind.UNLEASED_ACTIVE_PARTITION, "partition " + p.id(),
          Optional.empty(), detail, repaired));
    }
    Set<Integer> active = new HashSet<>();
    partitions.stream().filter(FabricPartition::active).forEach(p -> active.add(p.id()));
    for (Lease l : leases.values()) {
      if (l.state() == LeaseState.BOUND && l.partitionId().isPresent()
          && !active.contains(l.partitionId().getAsInt())) {
        found.add(new Discrepancy(Kind.LEASED_PARTITION_INACTIVE, "partition "
            + l.partitionId().getAsInt(), Optional.of(l.owner()), "lease is BOUND but its "
            + "partition is not active; activate it again or release the lease", false));
      }
    }
  }
}
