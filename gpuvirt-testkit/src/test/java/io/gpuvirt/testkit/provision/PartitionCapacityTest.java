package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * An HGX B200 in partition mode, filled with 1, 2, 4 and 8-GPU VMs in a seeded random order until
 * no size fits, then emptied in a seeded random order.
 */
final class PartitionCapacityTest {
  private static final int SEEDS = 4;
  private static final List<Integer> SIZES = List.of(1, 2, 4, 8);

  @Test
  void fillingTheBoard_handsOutExactlyTheModulesOfEachPartition() {
    for (long seed = 0; seed < SEEDS; seed++) {
      try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
        List<Lease> leases = fill(site, new SplittableRandom(seed));
        ModuleIdMap byProfile = site.host().profile().moduleIds();
        for (Lease lease : leases) {
          FabricPartition partition = site.fabric().table()
              .partition(lease.partitionId().getAsInt()).orElseThrow();
          Set<PciAddress> expected = new TreeSet<>();
          partition.moduleIds().forEach(m -> expected.add(byProfile.address(m).orElseThrow()));
          Set<PciAddress> handedOut = new TreeSet<>();
          lease.requestedDevices().forEach(d -> handedOut.add(d.address()));

          assertEquals(expected, handedOut, "seed " + seed + ", " + lease.owner()
              + " holds partition " + partition.id() + " " + partition.moduleIds());
        }
      }
    }
  }

  @Test
  void fillingTheBoard_neverSharesAGpuOrAPartition_andUsesAllEight() {
    for (long seed = 0; seed < SEEDS; seed++) {
      try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
        List<Lease> leases = fill(site, new SplittableRandom(seed));
        Set<PciAddress> gpus = new HashSet<>();
        Set<Integer> partitions = new HashSet<>();
        for (Lease lease : leases) {
          assertTrue(partitions.add(lease.partitionId().getAsInt()), "seed " + seed
              + ": partition " + lease.partitionId() + " given twice");
          for (LeasedDevice d : lease.requestedDevices()) {
            assertTrue(gpus.add(d.address()), "seed " + seed + ": " + d.address()
                + " given twice");
          }
        }
        assertEquals(8, gpus.size(), "seed " + seed + ": GPUs handed out when full");
        assertEquals(new TreeSet<>(partitions), new TreeSet<>(site.fabric().activePartitionIds()),
            "seed " + seed + ": active partitions");
      }
    }
  }

  @Test
  void requestWhenNoPartitionFits_isRefusedSayingWhatIsFree() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      site.provisioner().provision(AllocationRequest.builder("vm-a").count(4).build());
      site.provisioner().provision(AllocationRequest.builder("vm-b").count(2).build());
      HostSnapshot before = site.snapshot();

      AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
          () -> site.provisioner().provision(AllocationRequest.builder("vm-c").count(4).build()));

      assertTrue(e.getMessage().contains("free now: 2 GPUs (modules [7, 8]), making 1 of 2 GPUs,"
          + " 2 of 1 GPUs"), e.getMessage());
      HostSnapshot.assertUnchanged(before, site.snapshot(), "refusal");
    }
  }

  @Test
  void requestWhenTheBoardIsFull_isRefusedSayingNothingIsFree() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      site.provisioner().provision(AllocationRequest.builder("vm-a").count(8).build());

      AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
          () -> site.provisioner().provision(AllocationRequest.builder("vm-b").count(1).build()));

      assertTrue(e.getMessage().contains("free now: no GPU"), e.getMessage());
    }
  }

  @Test
  void teardownInRandomOrder_returnsTheHostToItsInitialState() {
    for (long seed = 0; seed < SEEDS; seed++) {
      try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
        HostSnapshot initial = site.snapshot();
        List<Lease> leases = new ArrayList<>(fill(site, new SplittableRandom(seed)));
        Collections.shuffle(leases, new Random(seed));
        for (Lease lease : leases) {
          assertTrue(site.provisioner().teardown(lease.owner()), "seed " + seed + ": "
              + lease.owner());
        }

        HostSnapshot.assertUnchanged(initial, site.snapshot(), "seed " + seed);
      }
    }
  }

  /** Provisions VMs of random sizes until no size fits; returns their leases. */
  private static List<Lease> fill(SimulatedSite site, SplittableRandom rnd) {
    List<Integer> sizes = new ArrayList<>(SIZES);
    List<Lease> leases = new ArrayList<>();
    int n = 0;
    while (!sizes.isEmpty()) {
      int size = sizes.get(rnd.nextInt(sizes.size()));
      try {
        leases.add(site.provisioner().provision(AllocationRequest.builder("vm-" + n++)
            .count(size).build()).lease());
      } catch (AllocationRefusedException e) {
        sizes.remove(Integer.valueOf(size));
      }
    }
    return leases;
  }
}
