package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuException;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** vGPU leases on the legacy-mdev T4 host: UUIDs per lease, fill, refusals, teardown, recovery. */
final class MdevProvisionerTest {
  private static final PciAddress PF0 = PciAddress.parse("0000:3b:00.0");
  private static final PciAddress PF1 = PciAddress.parse("0000:af:00.0");
  private static final VgpuType Q4 = VgpuTypeCatalogue.t4().require("T4-4Q");

  @TempDir Path state;
  private SimulatedHost host;
  private Sysfs sysfs;
  private VgpuDevices devices;
  private LeaseLedger ledger;
  private VgpuProvisioner vgpu;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.t4Mdev();
    sysfs = host.sysfs();
    devices = VgpuDevices.on(sysfs, new FakeSriovManage(sysfs)).withRetry(2, Duration.ZERO);
    ledger = LeaseLedger.open(state);
    vgpu = VgpuProvisioner.on(devices, ledger);
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private int mdevCount() {
    return devices.mdevs(PF0).size() + devices.mdevs(PF1).size();
  }

  private static UUID uuidOf(Lease lease) {
    return lease.vgpus().get(0).mdev().orElseThrow();
  }

  @Test
  void provision_createsTheLeasesOwnMediatedDeviceAndRecordsABoundLease() {
    Lease lease = vgpu.provision(VgpuRequest.ofType("vm-7", "T4-4Q"));
    VgpuAssignment v = lease.vgpus().get(0);
    assertEquals(List.of(LeaseState.BOUND, PF0, VgpuProvisioner.mdevUuid("vm-7"),
            Optional.of(232), Optional.of(lease), "/sys/bus/mdev/devices/" + uuidOf(lease)),
        List.of(lease.state(), v.pf(), uuidOf(lease), devices.mdevType(uuidOf(lease)),
            ledger.lease("vm-7"), v.sysfsPath()));
  }

  @Test
  void mdevUuid_isTheSameForAnOwnerAndDiffersBetweenOwners() {
    assertEquals(VgpuProvisioner.mdevUuid("vm-7"), VgpuProvisioner.mdevUuid("vm-7"));
    assertTrue(!VgpuProvisioner.mdevUuid("vm-7").equals(VgpuProvisioner.mdevUuid("vm-8")));
  }

  @Test
  void provision_twiceForOneOwnerIsIdempotent() {
    Lease first = vgpu.provision(VgpuRequest.ofType("vm-1", "232"));
    long writes = host.writeCount();
    assertEquals(List.of(first, writes, 1), List.of(
        vgpu.provision(VgpuRequest.ofType("vm-1", "T4-4Q")), host.writeCount(), mdevCount()));
  }

  @Test
  void provision_spreadAndNuma() {
    vgpu.provision(VgpuRequest.ofType("vm-1", "T4-4Q"));
    Lease spread = vgpu.provision(VgpuRequest.ofType("vm-2", "T4-4Q")
        .withFill(VgpuRequest.Fill.SPREAD));
    Lease numa = vgpu.provision(VgpuRequest.ofType("vm-3", "T4-4Q").onNumaNode(0));
    assertEquals(List.of(PF1, PF0), List.of(spread.vgpus().get(0).pf(), numa.vgpus().get(0).pf()));
  }

  @Test
  void provision_anotherTypeGoesToTheOtherGpu_andAThirdTypeIsRefusedNamingThePlacedOnes() {
    vgpu.provision(VgpuRequest.ofType("vm-1", "T4-4Q"));
    Lease other = vgpu.provision(VgpuRequest.ofType("vm-2", "T4-1Q"));
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-3", "T4-2B")));
    assertEquals(PF1, other.vgpus().get(0).pf());
    assertTrue(e.getMessage().contains(PF0 + ": holds [GRID T4-4Q] (homogeneous")
        && e.getMessage().contains(PF1 + ": holds [GRID T4-1Q]"), e.getMessage());
  }

  @Test
  void provision_untilBothGpusAreFull_thenTheRefusalSaysTheGpuIsFull() {
    for (int i = 0; i < 2 * Q4.maxInstances(); i++) {
      vgpu.provision(VgpuRequest.ofType("vm-" + i, "T4-4Q"));
    }
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-last", "T4-4Q")));
    assertTrue(e.getMessage().contains(PF0 + ": the GPU is full (4 vGPUs placed)")
        && e.getMessage().contains(PF1 + ": the GPU is full (4 vGPUs placed)"), e.getMessage());
  }

  @Test
  void provision_unknownTypeIsRefusedAndChangesNothing() {
    long writes = host.writeCount();
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-1", "T4-3Q")));
    assertEquals(List.of(true, writes, List.of()), List.of(
        e.getMessage().contains("NVIDIA Tesla T4 has no type T4-3Q"), host.writeCount(),
        ledger.leases()));
  }

  @Test
  void provision_failingCreateRollsBack() {
    host.inject(Fault.writeFails("/sys/class/mdev_bus/" + PF0
        + "/mdev_supported_types/nvidia-232/create"));
    assertThrows(VgpuException.class, () -> vgpu.provision(VgpuRequest.ofType("vm-1", "T4-4Q")));
    assertEquals(List.of(List.of(), 0), List.of(ledger.leases(), mdevCount()));
  }

  @Test
  void passthrough_ofAGpuServingLeasedVgpusIsRefused() {
    vgpu.provision(VgpuRequest.ofType("vm-1", "T4-4Q").onNumaNode(0));
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> ledger.allocate(AllocationRequest.builder("vm-whole")
            .selector(DeviceSelector.addresses(List.of(PF0))).build(), TopologyScanner.scan(sysfs)));
    assertTrue(e.getMessage().contains("GPU " + PF0 + " serves the vGPUs leased to vm-1"),
        e.getMessage());
  }

  @Test
  void provision_onAGpuLeasedWholeIsRefused() {
    ledger.allocate(AllocationRequest.builder("vm-whole")
        .selector(DeviceSelector.addresses(List.of(PF0))).build(), host.expectedTopology());
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-1", "T4-4Q").onNumaNode(0)));
    assertTrue(e.getMessage().contains(PF0 + ": leased whole"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 7, 99, 20261203})
  void teardownInRandomOrder_noMediatedDeviceAndNoLeaseLeft(long seed) {
    Random random = new Random(seed);
    List<String> owners = new ArrayList<>();
    List<String> types = List.of("T4-1Q", "T4-4Q", "T4-2B", "T4-16C");
    for (int i = 0; i < 30; i++) {
      String owner = "vm-" + i;
      try {
        vgpu.provision(VgpuRequest.ofType(owner, types.get(random.nextInt(types.size())))
            .withFill(random.nextBoolean() ? VgpuRequest.Fill.PACK : VgpuRequest.Fill.SPREAD));
        owners.add(owner);
      } catch (AllocationRefusedException full) {
        // the card holds other types now, or is full
      }
    }
    Collections.shuffle(owners, random);
    owners.forEach(vgpu::teardown);
    assertEquals(List.of(0, List.of()), List.of(mdevCount(), ledger.leases()), "seed " + seed);
  }

  @Test
  void teardown_failingRemoveKeepsTheLeaseAndASecondTeardownFinishes() {
    Lease lease = vgpu.provision(VgpuRequest.ofType("vm-1", "T4-4Q"));
    host.inject(Fault.writeFails("/sys/bus/mdev/devices/" + uuidOf(lease) + "/remove").times(2));
    assertThrows(VgpuException.class, () -> vgpu.teardown("vm-1"));
    assertEquals(Optional.of(lease), ledger.lease("vm-1"));
    vgpu.teardown("vm-1");
    assertEquals(List.of(List.of(), 0), List.of(ledger.leases(), mdevCount()));
  }

  /** A crash after the lease was recorded: before the device was created, or after. */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void recover_unfinishedLeaseIsRolledBack(boolean deviceWasCreated) {
    UUID uuid = VgpuProvisioner.mdevUuid("vm-crash");
    VgpuAssignment v = VgpuAssignment.onMdev(PF0, uuid, Q4);
    ledger.allocateVgpus("vm-crash", l -> false, others -> new Lease("vm-crash",
        LeaseOrigin.PROVISION, LeaseState.ALLOCATED, AllocationRequest.builder("vm-crash")
            .selector(DeviceSelector.addresses(List.of(PF0))).build(), List.of(),
        OptionalInt.empty(), List.of(), Instant.now(), Optional.empty(), List.of(v)));
    if (deviceWasCreated) {
      devices.createMdev(PF0, Q4, uuid);
    }
    List<String> actions = vgpu.recover();
    assertEquals(List.of(1, List.of(), 0), List.of(actions.size(), ledger.leases(), mdevCount()));
  }

  @Test
  void recover_reportsAMediatedDeviceNoLeaseHoldsAndLeavesIt() {
    UUID foreign = UUID.fromString("e4042b96-e63d-56cf-bcc8-4e6eecccc12e");
    devices.createMdev(PF1, Q4, foreign);
    List<String> actions = vgpu.recover();
    assertEquals(List.of(1, Optional.of(232)), List.of(actions.size(), devices.mdevType(foreign)));
    assertTrue(actions.get(0).contains(foreign + " (type 232) on " + PF1), actions.toString());
  }
}
