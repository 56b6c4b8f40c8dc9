package io.gpuvirt.core.fleet;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciNames;
import io.gpuvirt.core.pci.Topology;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * What one host offers the fleet: its GPUs and, on a shared-NVSwitch host, its Fabric Manager
 * partitions (by module id). Built from a scanned {@link Topology} with {@link #of}, or from values.
 * Each GPU must be alone in its IOMMU group (the fleet leases GPUs as whole groups); every
 * partition's modules must be GPUs of the host.
 *
 * @param host the host's name (as {@code gpuvirt_host.name})
 * @param gpus sorted by address
 * @param partitions sorted by id; empty on a host without Fabric Manager
 */
public record HostInventory(String host, List<InventoryGpu> gpus,
    List<FabricPartition> partitions) {
  public HostInventory {
    HostNames.check(host);
    gpus = gpus.stream().sorted(Comparator.comparing(InventoryGpu::address)).toList();
    partitions = partitions.stream().map(p -> p.withActive(false))
        .sorted(Comparator.comparingInt(FabricPartition::id)).toList();
    Map<Integer, InventoryGpu> groups = new HashMap<>();
    Map<Integer, InventoryGpu> modules = new HashMap<>();
    Set<Object> addresses = new TreeSet<>();
    for (InventoryGpu g : gpus) {
      if (!addresses.add(g.address())) {
        throw new InvalidValueException("host " + host + " lists GPU " + g.address() + " twice");
      }
      InventoryGpu other = groups.put(g.iommuGroup(), g);
      if (other != null) {
        throw new InvalidValueException("GPUs " + other.address() + " and " + g.address() + " of "
            + host + " share IOMMU group " + g.iommuGroup() + "; the fleet leases one GPU per "
            + "group: enable ACS on the switch above them, or allocate on the host itself");
      }
      if (g.moduleId().isPresent()) {
        other = modules.put(g.moduleId().getAsInt(), g);
        if (other != null) {
          throw new InvalidValueException("GPUs " + other.address() + " and " + g.address()
              + " of " + host + " have the same module id " + g.moduleId().getAsInt()
              + "; rediscover the module-id map");
        }
      }
    }
    Set<Integer> ids = new TreeSet<>();
    for (FabricPartition p : partitions) {
      if (!ids.add(p.id())) {
        throw new InvalidValueException("host " + host + " lists partition " + p.id() + " twice");
      }
      for (int m : p.moduleIds()) {
        if (!modules.containsKey(m)) {
          throw new InvalidValueException("partition " + p.id() + " of " + host + " holds GPU "
              + "module " + m + ", which no published GPU has; publish the module-id map with "
              + "the GPUs");
        }
      }
    }
  }

  /**
   * The inventory of a scanned host: every GPU of {@code topology} (with its model from
   * {@code names}), module ids from {@code moduleIds} and the host's partitions.
   */
  public static HostInventory of(String host, Topology topology, PciNames names,
      Optional<ModuleIdMap> moduleIds, List<FabricPartition> partitions) {
    List<InventoryGpu> gpus = new ArrayList<>();
    for (PciDevice d : topology.gpus()) {
      if (d.isVirtualFunction()) {
        continue;
      }
      if (d.iommuGroup().isEmpty()) {
        throw new InvalidValueException("GPU " + d.address() + " of " + host + " has no IOMMU "
            + "group: enable the IOMMU (intel_iommu=on or amd_iommu=on) before publishing");
      }
      OptionalInt module = moduleIds.flatMap(m -> m.moduleId(d.address()))
          .map(OptionalInt::of).orElse(OptionalInt.empty());
      gpus.add(new InventoryGpu(d.address(), d.id(), names.device(d.id()).orElse(d.id().toString()),
          d.numaNode(), d.iommuGroup().getAsInt(), module));
    }
    return new HostInventory(host, gpus, partitions);
  }

  /** A digest of the inventory: equal inventories, equal digests (re-publishing is a no-op). */
  String digest() {
    StringBuilder b = new StringBuilder();
    for (InventoryGpu g : gpus) {
      b.append(g.address()).append(' ').append(g.id()).append(' ').append(g.model()).append(' ')
          .append(g.numaNode()).append(' ').append(g.iommuGroup()).append(' ')
          .append(g.moduleId()).append('\n');
    }
    for (FabricPartition p : partitions) {
      b.append("partition ").append(p.id()).append(' ').append(p.moduleIds()).append('\n');
    }
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(b.toString().getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  static HostInventory requireNonNull(HostInventory inventory) {
    return Objects.requireNonNull(inventory, "inventory");
  }
}
