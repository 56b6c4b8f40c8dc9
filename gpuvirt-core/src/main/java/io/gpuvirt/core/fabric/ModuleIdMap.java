package io.gpuvirt.core.fabric;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

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
        throw new IllegalArgumentException("module id must be 0 or more, was " + e.getKey());
      }
      Integer other = seen.put(e.getValue(), e.getKey());
      if (other != null) {
        throw new IllegalArgumentException("GPU " + e.getValue() + " has two module ids, " + other
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
    for (Map.Entry<Integer, PciAddress> e : byModuleId.entrySet()) {
      Optional<PciDevice> d = topology.device(e.getValue());
      if (d.isEmpty() || !d.get().isGpu()) {
        throw new GpuvirtException("module id " + e.getKey() + " maps to " + e.getValue()
            + ", which is not a GPU on " + topology.source()
            + "; rediscover the map with 'gpuvirt module-ids' while the GPUs are on the nvidia driver");
      }
    }
    return this;
  }
}
