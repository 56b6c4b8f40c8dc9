package io.gpuvirt.core.fabric;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.Topology;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The map between GPU module ids (what Fabric Manager partitions name) and PCI addresses (what VFIO
 * and QEMU need). Module ids do not follow PCI order. Each id maps to one address and back.
 *
 * @param byModuleId module id to GPU address, sorted by module id
 */
public record ModuleIdMap(Map<Integer, PciAddress> byModuleId) {
  public ModuleIdMap {
    Map<PciAddress, Integer> seen = new HashMap<>();
    for (Map.Entry<Integer, PciAddress> e : byModuleId.entrySet()) {
      if (e.getKey() < 0) {
        throw new InvalidValueException("module id must be 0 or more, was " + e.getKey());
      }
      Integer other = seen.put(e.getValue(), e.getKey());
      if (other != null) {
        throw new InvalidValueException("GPU " + e.getValue() + " has two module ids, " + other
            + " and " + e.getKey());
      }
    }
    byModuleId = Collections.unmodifiableMap(new TreeMap<>(byModuleId));
  }

  /** The address of the GPU with this module id. */
  public Optional<PciAddress> address(int moduleId) {
    return Optional.ofNullable(byModuleId.get(moduleId));
  }

  /** The module id of the GPU at this address. */
  public Optional<Integer> moduleId(PciAddress address) {
    return byModuleId.entrySet().stream().filter(e -> e.getValue().equals(address))
        .map(Map.Entry::getKey).findFirst();
  }

  /**
   * Checks the map against a host: every address must be a GPU of the topology.
   *
   * @throws GpuvirtException naming the module id and address that do not fit
   */
  public ModuleIdMap validateAgainst(Topology topology) {
    return validateAgainst(topology.gpus().stream()
        .filter(g -> g.id().vendor() == PciId.NVIDIA && !g.isVirtualFunction())
        .map(PciDevice::address).toList(), topology.source());
  }

  /** How many GPUs the map names. */
  public int size() {
    return byModuleId.size();
  }

  /** The GPU addresses the map names, sorted. */
  public Set<PciAddress> addresses() {
    return Collections.unmodifiableSet(new TreeSet<>(byModuleId.values()));
  }

  /**
   * Checks the map against the GPUs of a host: every mapped address must be one of
   * {@code gpuAddresses}, and every one of them must have a module id.
   *
   * @param gpuAddresses the addresses of the host's GPUs (physical functions)
   * @param source where they were read from, for messages ({@code host root /})
   * @throws GpuvirtException naming the first address that does not fit
   */
  public ModuleIdMap validateAgainst(Collection<PciAddress> gpuAddresses, String source) {
    Set<PciAddress> gpus = new TreeSet<>(gpuAddresses);
    for (Map.Entry<Integer, PciAddress> e : byModuleId.entrySet()) {
      if (!gpus.contains(e.getValue())) {
        throw new GpuvirtException("module id " + e.getKey() + " maps to " + e.getValue()
            + ", which is not a GPU on " + source
            + "; rediscover the map with 'gpuvirt module-ids' while the GPUs are on the nvidia driver");
      }
    }
    Set<PciAddress> mapped = addresses();
    for (PciAddress gpu : gpus) {
      if (!mapped.contains(gpu)) {
        throw new GpuvirtException("GPU " + gpu + " on " + source + " has no module id in the map; "
            + "bind it to the nvidia driver and rediscover the map with 'gpuvirt module-ids'");
      }
    }
    return this;
  }

  /**
   * Checks that every module id a partition names has an address, so that any partition can be
   * turned into PCI devices.
   *
   * @throws GpuvirtException naming the partition and the module id without an address
   */
  public ModuleIdMap validateAgainst(List<FabricPartition> partitions) {
    for (FabricPartition p : partitions) {
      for (int id : p.moduleIds()) {
        if (!byModuleId.containsKey(id)) {
          throw new GpuvirtException("partition " + p.id() + " names GPU module id " + id
              + ", which the module-id map does not know (it knows " + byModuleId.keySet()
              + "); rediscover the map with 'gpuvirt module-ids' while all GPUs are on the nvidia "
              + "driver");
        }
      }
    }
    return this;
  }

  /**
   * The addresses of a partition's GPUs, in module-id order.
   *
   * @throws GpuvirtException when a module id of the partition has no address
   */
  public List<PciAddress> addressesOf(FabricPartition partition) {
    validateAgainst(List.of(partition));
    return partition.moduleIds().stream().map(byModuleId::get).toList();
  }
}
