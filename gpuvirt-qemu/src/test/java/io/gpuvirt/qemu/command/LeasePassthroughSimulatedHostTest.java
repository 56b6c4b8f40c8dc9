package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.qemu.testing.RecordedQemu;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The conversion on a lease the real allocator made: a simulated HGX B200 scanned by the real
 * scanner, its simulated Fabric Manager, a 4-GPU partition chosen by module id.
 */
final class LeasePassthroughSimulatedHostTest {
  @TempDir static Path dir;
  private static SimulatedHost host;
  private static FabricManager fabricManager;
  private static PartitionContext partitions;
  private static Topology topology;

  @BeforeAll
  static void boot() {
    host = SimulatedHost.hgxB200();
    topology = TopologyScanner.scan(host.sysfs());
    SimulatedFabric fabric = SimulatedFabric.hgxB200(dir.resolve("fm.json"));
    fabricManager = fabric.connect();
    partitions = new PartitionContext(fabricManager, host.profile().moduleIds());
  }

  @AfterAll
  static void shutDown() throws Exception {
    fabricManager.close();
    host.close();
  }

  private static Lease fourGpus() {
    return LeaseLedger.open(dir.resolve("state")).allocate(
        AllocationRequest.builder("vm-42").count(4).build(), topology, partitions);
  }

  private static FabricPartition partitionOf(Lease lease) {
    int id = lease.partitionId().orElseThrow();
    return fabricManager.listPartitions().stream().filter(p -> p.id() == id).findFirst()
        .orElseThrow();
  }

  @Test
  void of_allocatedPartition_passesExactlyThePartitionsGpus() {
    Lease lease = fourGpus();
    List<PciAddress> expected = host.profile().moduleIds().addressesOf(partitionOf(lease))
        .stream().sorted().toList();
    assertEquals(expected, LeasePassthrough.of(lease).units().stream()
        .map(u -> u.primary().address()).toList());
  }

  @Test
  void of_allocatedPartition_cliqueIsThePartitionId() {
    Lease lease = fourGpus();
    assertEquals(OptionalInt.of(lease.partitionId().orElseThrow()),
        LeasePassthrough.of(lease).gpudirectClique());
  }

  @Test
  void of_allocatedPartition_everyGpuGetsItsOwnRootPort() {
    QemuArgs args = QemuCommandBuilder.forQemu(RecordedQemu.capabilities()).memoryMiB(64 * 1024)
        .devices(LeasePassthrough.of(fourGpus())).build();
    assertEquals(4, args.devices().stream().map(PlacedDevice::rootPort).distinct().count());
  }

  @Test
  void describe_allocatedPartition_namesEachGpuFromTheOwnTable() {
    QemuArgs args = QemuCommandBuilder.forQemu(RecordedQemu.capabilities()).memoryMiB(64 * 1024)
        .devices(LeasePassthrough.of(fourGpus())).build();
    assertEquals(4, args.describe().stream()
        .filter(line -> line.contains("GPU 10de:2901 (GB100 [B200]) behind its own root port"))
        .count(), String.join("\n", args.describe()));
  }
}
