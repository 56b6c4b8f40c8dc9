package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.CreatableVgpuTypes;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuCapability;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuException;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuProvisioner.PartitionSharing;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.testkit.fabric.FabricFault;
import io.gpuvirt.testkit.fabric.FabricOperation;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * vGPU leases on the HGX B200 in Fabric Manager vGPU mode ({@code hgx-b200-vgpu}): each lease's
 * partition activated with its VFs, shared one-GPU partitions, peer-to-peer partitions for one VM,
 * filling until full, teardown in random order, rollback and recovery.
 */
final class VgpuFabricModeTest {
  // module ids: 17 -> 1, 3d -> 4, 60 -> 2, 70 -> 3, 98 -> 7, bb -> 5, dd -> 8, ed -> 6
  private static final PciAddress GPU_M1 = PciAddress.parse("0000:17:00.0");
  private static final PciAddress GPU_M2 = PciAddress.parse("0000:60:00.0");

  @TempDir Path state;
  private SimulatedHost host;
  private VgpuDevices devices;
  private SimulatedFabric fabric;
  private PartitionContext partitions;
  private LeaseLedger ledger;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.create(HostProfile.hgxB200Vgpu());
    Sysfs sysfs = host.sysfs();
    devices = VgpuDevices.on(sysfs, new FakeSriovManage(sysfs)).withRetry(2, Duration.ZERO);
    devices.capabilities().forEach(c -> devices.enable(c.pf()));
    fabric = SimulatedFabric.ofHost(host).orElseThrow();
    partitions = new PartitionContext(fabric.connect(), fabric.moduleIdMap());
    ledger = LeaseLedger.open(state);
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private VgpuProvisioner vgpu() {
    return VgpuProvisioner.on(devices, ledger).withFabric(partitions);
  }

  private int typedVfs() {
    int n = 0;
    for (VgpuCapability gpu : devices.capabilities()) {
      for (PciAddress vf : gpu.virtualFunctions()) {
        n += devices.currentType(vf) == 0 ? 0 : 1;
      }
    }
    return n;
  }

  @Test
  void preset_eightGpusInVgpuModeWithSixteenVfsEach() {
    List<VgpuCapability> gpus = devices.capabilities();
    assertEquals(List.of(8, 16, true), List.of(gpus.size(),
        gpus.get(0).virtualFunctions().size(), devices.nvswitchSystem()));
  }

  @Test
  void provision_oneVgpu_activatesItsGpusOneGpuPartitionWithItsVf() {
    Lease lease = vgpu().provision(VgpuRequest.ofType("vm-1", "B200X-45C"));
    PciAddress vf = lease.vgpus().get(0).vf().orElseThrow();
    assertEquals(List.of(LeaseState.BOUND, GPU_M1, OptionalInt.of(8), List.of(8), List.of(vf)),
        List.of(lease.state(), lease.vgpus().get(0).pf(), lease.partitionId(),
            fabric.activePartitionIds(), fabric.activeVirtualFunctions(8)));
  }

  @Test
  void provision_secondVgpuOnTheSameGpu_sharesItsActivePartition() {
    vgpu().provision(VgpuRequest.ofType("vm-1", "B200X-45C"));
    Lease second = vgpu().provision(VgpuRequest.ofType("vm-2", "B200X-45C"));
    assertEquals(List.of(GPU_M1, OptionalInt.of(8), List.of(8)), List.of(
        second.vgpus().get(0).pf(), second.partitionId(), fabric.activePartitionIds()));
  }

  @Test
  void teardown_sharedPartition_deactivatedOnlyWithItsLastLease() {
    vgpu().provision(VgpuRequest.ofType("vm-1", "B200X-45C"));
    vgpu().provision(VgpuRequest.ofType("vm-2", "B200X-45C"));
    vgpu().teardown("vm-1");
    List<Integer> afterFirst = fabric.activePartitionIds();
    vgpu().teardown("vm-2");
    assertEquals(List.of(List.of(8), List.of(), 0), List.of(afterFirst,
        fabric.activePartitionIds(), typedVfs()));
  }

  @Test
  void provision_exclusiveSharing_putsTheSecondVmOnAnotherGpu() {
    VgpuProvisioner exclusive = VgpuProvisioner.on(devices, ledger)
        .withFabric(partitions, PartitionSharing.EXCLUSIVE);
    exclusive.provision(VgpuRequest.ofType("vm-1", "B200X-45C"));
    Lease second = exclusive.provision(VgpuRequest.ofType("vm-2", "B200X-45C"));
    assertEquals(List.of(PciAddress.parse("0000:3d:00.0"), OptionalInt.of(11), List.of(8, 11)),
        List.of(second.vgpus().get(0).pf(), second.partitionId(), fabric.activePartitionIds()));
  }

  @Test
  void provision_twoVgpus_getATwoGpuPartitionWithTheVfsInModuleOrder() {
    Lease lease = vgpu().provision(VgpuRequest.ofType("vm-p2p", "B200X-90C").withCount(2));
    List<PciAddress> vfs = lease.vgpus().stream().map(v -> v.vf().orElseThrow()).toList();
    assertEquals(List.of(List.of(GPU_M1, GPU_M2), OptionalInt.of(4), List.of(4), vfs),
        List.of(lease.vgpus().stream().map(VgpuAssignment::pf).toList(), lease.partitionId(),
            fabric.activePartitionIds(), fabric.activeVirtualFunctions(4)));
  }

  @Test
  void provision_besidePeerToPeerVgpus_goesToAGpuOutsideTheirPartition() {
    vgpu().provision(VgpuRequest.ofType("vm-p2p", "B200X-90C").withCount(2));
    // GPUs 17 and 60 could each take one more 90C (two per GPU), but their partition is vm-p2p's
    Lease other = vgpu().provision(VgpuRequest.ofType("vm-x", "B200X-90C"));
    assertFalse(List.of(GPU_M1, GPU_M2).contains(other.vgpus().get(0).pf()),
        other.toString());
  }

  @Test
  void provision_peerToPeerOnGpusWithAnotherVmsVgpu_refusedNamingTheRule() {
    VgpuProvisioner p = vgpu();
    // one single vGPU on each GPU: every 2-GPU partition overlaps a leased one-GPU partition
    for (int i = 0; i < 8; i++) {
      p.provision(VgpuRequest.ofType("vm-" + i, "B200X-90C").withFill(VgpuRequest.Fill.SPREAD));
    }
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> p.provision(VgpuRequest.ofType("vm-p2p", "B200X-90C").withCount(2)));
    assertTrue(e.getMessage().contains("vGPUs that talk peer-to-peer must be in one VM"),
        e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3})
  void fillEveryGpu_thenRefusedAsFull_thenTeardownInRandomOrder_leavesNothing(long seed) {
    VgpuProvisioner p = vgpu();
    List<String> owners = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      owners.add("vm-" + i);
      p.provision(VgpuRequest.ofType("vm-" + i, "B200X-180C"));
    }
    for (VgpuCapability gpu : devices.capabilities()) {
      for (PciAddress vf : gpu.virtualFunctions()) {
        if (devices.currentType(vf) == 0) {
          assertEquals(List.<CreatableVgpuTypes.Entry>of(), devices.creatable(vf), vf.toString());
        }
      }
    }
    AllocationRefusedException full = assertThrows(AllocationRefusedException.class,
        () -> p.provision(VgpuRequest.ofType("vm-8", "B200X-180C")));
    assertTrue(full.getMessage().contains("the GPU is full"), full.getMessage());
    List<Integer> active = fabric.activePartitionIds();
    Collections.shuffle(owners, new Random(seed));
    owners.forEach(p::teardown);
    assertEquals(List.of(List.of(8, 9, 10, 11, 12, 13, 14, 15), List.of(), 0, List.of()),
        List.of(active, fabric.activePartitionIds(), typedVfs(), ledger.leases()),
        "seed " + seed);
  }

  @Test
  void provision_fabricManagerRefusesTheActivation_rolledBack() {
    fabric.inject(FabricFault.fail(FabricOperation.ACTIVATE, FmReturnCode.GENERIC_ERROR));
    VgpuException e = assertThrows(VgpuException.class,
        () -> vgpu().provision(VgpuRequest.ofType("vm-1", "B200X-45C")));
    assertEquals(List.of(List.of(), 0, List.of()), List.of(fabric.activePartitionIds(),
        typedVfs(), ledger.leases()), e.getMessage());
  }

  @Test
  void provision_migBackedType_refusedOnThisNvswitchSystem() {
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu().provision(VgpuRequest.ofType("vm-1", "B200X-1-23C")));
    assertTrue(e.getMessage().contains("MIG-backed vGPUs are not supported"), e.getMessage());
  }

  @Test
  void provision_withoutFabricManager_refusedAndNothingChanged() {
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> VgpuProvisioner.on(devices, ledger).provision(VgpuRequest.ofType("vm-1",
            "B200X-45C")));
    assertEquals(List.of(true, 0, List.of()), List.of(e.getMessage().contains("FABRIC_MODE=2"),
        typedVfs(), ledger.leases()));
  }

  @Test
  void teardown_withoutFabricManager_refusedAndTheLeaseKept() {
    vgpu().provision(VgpuRequest.ofType("vm-1", "B200X-45C"));
    assertThrows(VgpuException.class, () -> VgpuProvisioner.on(devices, ledger)
        .teardown("vm-1"));
    assertEquals(List.of(1, List.of(8)), List.of(ledger.leases().size(),
        fabric.activePartitionIds()));
  }

  @Test
  void recover_unleasedActivePartition_deactivated() {
    fabric.connect().activateWithVirtualFunctions(9, List.of(PciAddress.parse("0000:60:00.4")));
    List<String> actions = vgpu().recover();
    assertEquals(List.of(List.of(), true), List.of(fabric.activePartitionIds(),
        actions.stream().anyMatch(a -> a.contains("deactivated partition 9"))));
  }
}
