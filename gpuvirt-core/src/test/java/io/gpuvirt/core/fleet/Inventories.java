package io.gpuvirt.core.fleet;

import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.PartitionGpu;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * Inventory-only hosts for fleet tests: an HGX B200 (8 GPUs with module ids 1-8 on two NUMA
 * nodes, the 15 partitions of NVIDIA's B200 table) and a plain 8-GPU host without Fabric Manager.
 */
public final class Inventories {
  /** The HGX B200 partitions: id, module ids (reference/fabric-manager partition table). */
  static final int[][] B200_PARTITIONS = {
      {1, 1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 3, 4}, {3, 5, 6, 7, 8}, {4, 1, 2}, {5, 3, 4},
      {6, 5, 6}, {7, 7, 8}, {8, 1}, {9, 2}, {10, 3}, {11, 4}, {12, 5}, {13, 6}, {14, 7}, {15, 8}};
  private static final int[] B200_BUSES = {0x17, 0x3d, 0x60, 0x70, 0x98, 0xbb, 0xdd, 0xed};

  private Inventories() {}

  public static HostInventory b200(String host) {
    List<InventoryGpu> gpus = new ArrayList<>();
    for (int m = 1; m <= 8; m++) {
      gpus.add(new InventoryGpu(PciAddress.parse(String.format("0000:%02x:00.0",
          B200_BUSES[m - 1])), PciId.parse("10de:2901"), "B200", m <= 4 ? 0 : 1, 10 + m,
          OptionalInt.of(m)));
    }
    List<FabricPartition> partitions = new ArrayList<>();
    for (int[] p : B200_PARTITIONS) {
      List<PartitionGpu> members = new ArrayList<>();
      for (int i = 1; i < p.length; i++) {
        members.add(new PartitionGpu(p[i], 18, 18, 53125));
      }
      partitions.add(new FabricPartition(p[0], false, members));
    }
    return new HostInventory(host, gpus, partitions);
  }

  /** {@code perNode[i]} GPUs (10de:2330, H100 SXM) on NUMA node i, no Fabric Manager. */
  public static HostInventory plain(String host, int... perNode) {
    List<InventoryGpu> gpus = new ArrayList<>();
    int bus = 0x10;
    for (int node = 0; node < perNode.length; node++) {
      for (int i = 0; i < perNode[node]; i++) {
        gpus.add(new InventoryGpu(PciAddress.parse(String.format("0000:%02x:00.0", bus)),
            PciId.parse("10de:2330"), "H100 SXM5 80GB", node, bus, OptionalInt.empty()));
        bus++;
      }
    }
    return new HostInventory(host, gpus, List.of());
  }
}
