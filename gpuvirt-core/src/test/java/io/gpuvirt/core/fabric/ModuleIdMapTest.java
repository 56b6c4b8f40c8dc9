package io.gpuvirt.core.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

final class ModuleIdMapTest {
  private static final ModuleIdMap B200 = ModuleIdMapStoreTest.b200();

  private static FabricPartition partition(int id, int... moduleIds) {
    return new FabricPartition(id, false,
        IntStream.of(moduleIds).mapToObj(m -> new PartitionGpu(m, 18, 18, 0)).toList());
  }

  @Test
  void addressesOf_partition_followsModuleIdsNotPciOrder() {
    // partition 5 = modules 3 and 4 = GPUs 70:00.0 and 3d:00.0, in module order
    assertEquals(List.of(PciAddress.parse("0000:70:00.0"), PciAddress.parse("0000:3d:00.0")),
        B200.addressesOf(partition(5, 3, 4)));
  }

  @Test
  void validateAgainst_exactGpuSet_passes() {
    assertEquals(B200, B200.validateAgainst(B200.addresses(), "test host"));
  }

  @Test
  void validateAgainst_gpuWithoutModuleId_namesTheGpu() {
    Set<PciAddress> gpus = new java.util.TreeSet<>(B200.addresses());
    gpus.add(PciAddress.parse("0000:f0:00.0"));
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> B200.validateAgainst(gpus, "test host"));
    assertTrue(e.getMessage().contains("0000:f0:00.0"), e.getMessage());
  }

  @Test
  void validateAgainst_addressThatIsNoGpu_namesTheModuleId() {
    Set<PciAddress> gpus = new java.util.TreeSet<>(B200.addresses());
    gpus.remove(PciAddress.parse("0000:ed:00.0"));
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> B200.validateAgainst(gpus, "test host"));
    assertTrue(e.getMessage().contains("module id 6"), e.getMessage());
  }

  @Test
  void validateAgainst_partitionWithUnknownModuleId_namesPartitionAndId() {
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> B200.validateAgainst(List.of(partition(1, 1, 2, 9))));
    assertTrue(e.getMessage().contains("partition 1") && e.getMessage().contains("module id 9"),
        e.getMessage());
  }
}
