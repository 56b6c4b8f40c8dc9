package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuException;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.core.vgpu.VgpuSeries;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** vGPU leases on the L40S host: choice, idempotency, refusals, teardown, rollback, recovery. */
final class VgpuProvisionerTest {
  private static final PciAddress PF0 = PciAddress.parse("0000:3d:00.0");
  private static final PciAddress PF1 = PciAddress.parse("0000:bd:00.0");
  private static final VgpuType B3 = VgpuTypeCatalogue.l40s().require("L40S-3B");

  @TempDir Path state;
  private SimulatedHost host;
  private Sysfs sysfs;
  private VgpuDevices devices;
  private LeaseLedger ledger;
  private VgpuProvisioner vgpu;

  @BeforeEach
  void writeHost() {
    host = SimulatedHost.l40sVgpu();
    sysfs = host.sysfs();
    devices = VgpuDevices.on(sysfs, new FakeSriovManage(sysfs)).withRetry(2, Duration.ZERO);
    devices.enable(PF0);
    devices.enable(PF1);
    ledger = LeaseLedger.open(state);
    vgpu = VgpuProvisioner.on(devices, ledger);
  }

  @AfterEach
  void deleteHost() {
    host.close();
  }

  private static PciAddress vfOf(Lease lease) {
    return lease.vgpus().get(0).vf().orElseThrow();
  }

  private int typedVfs() {
    return typedVfs(devices, PF0, PF1);
  }

  /** How many VFs of these GPUs carry a vGPU type now. */
  static int typedVfs(VgpuDevices devices, PciAddress... pfs) {
    int n = 0;
    for (PciAddress pf : pfs) {
      for (PciAddress vf : devices.virtualFunctions(pf)) {
        n += devices.currentType(vf) == 0 ? 0 : 1;
      }
    }
    return n;
  }

  @Test
  void provision_setsTheTypeAndRecordsABoundLease() {
    Lease lease = vgpu.provision(VgpuRequest.ofType("vm-7", "L40S-1Q"));
    assertEquals(List.of(LeaseState.BOUND, "0000:3d:00.4", 1147, Optional.of(lease)),
        List.of(lease.state(), vfOf(lease).toString(), devices.currentType(vfOf(lease)),
            ledger.lease("vm-7")));
  }

  @Test
  void provision_packPutsTheSecondOnTheSameGpu() {
    vgpu.provision(VgpuRequest.ofType("vm-1", "1147"));
    Lease second = vgpu.provision(VgpuRequest.ofType("vm-2", "1147"));
    assertEquals("0000:3d:00.5", vfOf(second).toString());
  }

  @Test
  void provision_spreadPutsTheSecondOnTheEmptiestGpu() {
    vgpu.provision(VgpuRequest.ofType("vm-1", "1147"));
    Lease second = vgpu.provision(VgpuRequest.ofType("vm-2", "1147")
        .withFill(VgpuRequest.Fill.SPREAD));
    assertEquals(PF1, second.vgpus().get(0).pf());
  }

  @Test
  void provision_numaNodeChoosesTheGpuOnThatNode() {
    Lease lease = vgpu.provision(VgpuRequest.ofType("vm-1", "1147").onNumaNode(1));
    assertEquals(PF1, lease.vgpus().get(0).pf());
  }

  @Test
  void provision_byFramebufferTakesTheSmallestTypeOfTheSeries() {
    Lease lease = vgpu.provision(VgpuRequest.ofFramebuffer("vm-1", 2, VgpuSeries.B));
    assertEquals("NVIDIA L40S-2B", lease.vgpus().get(0).type().name());
  }

  @Test
  void provision_anotherTypeGoesToTheOtherGpu() {
    vgpu.provision(VgpuRequest.ofType("vm-1", "L40S-1Q"));
    Lease other = vgpu.provision(VgpuRequest.ofType("vm-2", "L40S-3B"));
    assertEquals(PF1, other.vgpus().get(0).pf());
  }

  @Test
  void provision_twiceForOneOwnerIsIdempotent() {
    Lease first = vgpu.provision(VgpuRequest.ofType("vm-1", "L40S-1Q"));
    long writes = host.writeCount();
    Lease again = vgpu.provision(VgpuRequest.ofType("vm-1", "1147"));
    assertEquals(List.of(first, writes), List.of(again, host.writeCount()));
  }

  @Test
  void provision_twiceWithANumaNodeIsIdempotent() {
    Lease first = vgpu.provision(VgpuRequest.ofType("vm-1", "1147").onNumaNode(1));
    assertEquals(first, vgpu.provision(VgpuRequest.ofType("vm-1", "1147").onNumaNode(1)));
  }

  @Test
  void provision_differentRequestForAnOwnerWithALeaseIsRefused() {
    vgpu.provision(VgpuRequest.ofType("vm-1", "L40S-1Q"));
    assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-1", "L40S-3B")));
  }

  @Test
  void provision_untilBothGpusAreFull_thenTheRefusalSaysTheGpuIsFull() {
    for (int i = 0; i < 2 * B3.maxInstances(); i++) {
      vgpu.provision(VgpuRequest.ofType("vm-" + i, "L40S-3B"));
    }
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-last", "L40S-3B")));
    assertTrue(e.getMessage().contains("0000:3d:00.0: the GPU is full (16 vGPUs placed)")
        && e.getMessage().contains("0000:bd:00.0: the GPU is full"), e.getMessage());
  }

  @Test
  void provision_unknownTypeNameIsRefusedAndChangesNothing() {
    long writes = host.writeCount();
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-1", "L40S-99Z")));
    assertEquals(List.of(true, writes, List.of()), List.of(
        e.getMessage().contains("NVIDIA L40S has no type L40S-99Z"), host.writeCount(),
        ledger.leases()));
  }

  @Test
  void provision_failingSysfsWriteRollsBack() {
    host.inject(Fault.writeFails("/sys/bus/pci/devices/0000:3d:00.4/nvidia/current_vgpu_type"));
    assertThrows(VgpuException.class, () -> vgpu.provision(VgpuRequest.ofType("vm-1", "1147")));
    assertEquals(List.of(List.of(), 0), List.of(ledger.leases(), typedVfs()));
  }

  @Test
  void provision_onAGpuLeasedWholeIsRefused() {
    Lease whole = ledger.allocate(AllocationRequest.builder("vm-whole")
        .selector(DeviceSelector.addresses(List.of(PF0))).build(), host.expectedTopology());
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-1", "1147").onNumaNode(0)));
    assertTrue(e.getMessage().contains("0000:3d:00.0: leased whole"), e.getMessage()
        + whole);
  }

  @Test
  void passthrough_ofAGpuWithVfsEnabledIsRefused() {
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> ledger.allocate(AllocationRequest.builder("vm-whole")
            .selector(DeviceSelector.addresses(List.of(PF0))).build(), TopologyScanner.scan(sysfs)));
    assertTrue(e.getMessage().contains("physical function 0000:3d:00.0 has 32 VFs enabled"),
        e.getMessage());
  }

  @Test
  void teardown_leavesAVfThatCarriesAnotherTypeAlone() {
    Lease lease = vgpu.provision(VgpuRequest.ofType("vm-1", "1147"));
    devices.deactivate(vfOf(lease));
    devices.activate(vfOf(lease), B3);
    vgpu.teardown("vm-1");
    assertEquals(List.of(2164, List.of()),
        List.of(devices.currentType(vfOf(lease)), ledger.leases()));
  }

  @Test
  void provisionerTeardown_ofAVgpuLeaseClearsTheVfType() {
    Lease lease = vgpu.provision(VgpuRequest.ofType("vm-1", "1147"));
    boolean held = io.gpuvirt.core.provision.Provisioner.builder(sysfs, ledger).build()
        .teardown("vm-1");
    assertEquals(List.of(true, 0, List.of()),
        List.of(held, devices.currentType(vfOf(lease)), ledger.leases()));
  }

  @Test
  void teardown_ownerWithoutLeaseChangesNothing() {
    long writes = host.writeCount();
    assertEquals(List.of(Optional.empty(), writes),
        List.of(vgpu.teardown("vm-none"), host.writeCount()));
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 7, 99, 20261203})
  void teardownInRandomOrder_everyVfBackToTypeZeroAndNoLease(long seed) {
    Random random = new Random(seed);
    List<String> owners = new ArrayList<>();
    List<String> types = List.of("L40S-1Q", "L40S-2B", "L40S-3B", "L40S-1B");
    for (int i = 0; i < 40; i++) {
      String owner = "vm-" + i;
      try {
        vgpu.provision(VgpuRequest.ofType(owner, types.get(random.nextInt(types.size())))
            .withFill(random.nextBoolean() ? VgpuRequest.Fill.PACK : VgpuRequest.Fill.SPREAD));
        owners.add(owner);
      } catch (AllocationRefusedException full) {
        // the card holds other types now
      }
    }
    Collections.shuffle(owners, random);
    owners.forEach(vgpu::teardown);
    assertEquals(List.of(0, List.of()), List.of(typedVfs(), ledger.leases()), "seed " + seed);
  }

  // ---- fault matrix --------------------------------------------------------------------------

  static List<Fault> provisionFaults() {
    String vf = "/sys/bus/pci/devices/0000:3d:00.4";
    List<Fault> out = new ArrayList<>();
    for (String file : List.of(vf + "/nvidia/current_vgpu_type", vf + "/nvidia/creatable_vgpu_types",
        "/sys/bus/pci/devices/0000:3d:00.0/numa_node", "/sys/bus/pci/devices/0000:3d:00.0/virtfn0")) {
      out.add(Fault.readFails(file));
      out.add(Fault.readFails(file).times(2));
      out.add(Fault.readFails(file).times(3));
      out.add(Fault.readFails(file).persistent());
    }
    out.add(Fault.writeFails(vf + "/nvidia/current_vgpu_type"));
    out.add(Fault.writeFails(vf + "/nvidia/current_vgpu_type").persistent());
    return out;
  }

  /**
   * Each fault during provisioning: it succeeds or fails, and after recover() every VF with a type
   * is held by a BOUND lease and every lease's VF carries its type.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("provisionFaults")
  void faultDuringProvision_recoverLeavesNoVfWithATypeAndNoLease(Fault fault) {
    host.inject(fault);
    try {
      vgpu.provision(VgpuRequest.ofType("vm-1", "1147"));
    } catch (RuntimeException expected) {
      // a typed refusal or host error; checked below by the state it leaves
    }
    host.clearFaults();
    vgpu.recover();
    List<PciAddress> held = new ArrayList<>();
    for (Lease l : ledger.leases()) {
      assertEquals(LeaseState.BOUND, l.state(), fault + ": " + l);
      assertEquals(1147, devices.currentType(vfOf(l)), fault + ": " + l);
      held.add(vfOf(l));
    }
    assertEquals(held.size(), typedVfs(), fault.toString());
  }

  @Test
  void teardown_failingDeactivationKeepsTheLeaseAndASecondTeardownFinishes() {
    Lease lease = vgpu.provision(VgpuRequest.ofType("vm-1", "1147"));
    host.inject(Fault.writeFails("/sys/bus/pci/devices/" + vfOf(lease)
        + "/nvidia/current_vgpu_type").times(2));
    assertThrows(VgpuException.class, () -> vgpu.teardown("vm-1"));
    assertEquals(Optional.of(lease), ledger.lease("vm-1"));
    vgpu.teardown("vm-1");
    assertEquals(List.of(List.of(), 0), List.of(ledger.leases(), typedVfs()));
  }

  // ---- ledger and crashes -------------------------------------------------------------------

  @Test
  void ledger_vgpuLeaseSurvivesReopeningAndAFileWithoutVgpusHasNoVgpuField() throws Exception {
    Lease lease = vgpu.provision(VgpuRequest.ofType("vm-1", "1147"));
    assertEquals(Optional.of(lease), LeaseLedger.open(state).lease("vm-1"));
    vgpu.teardown("vm-1");
    ledger.allocate(AllocationRequest.builder("vm-whole")
        .selector(DeviceSelector.addresses(List.of(PF0))).build(), host.expectedTopology());
    ledger.compact(); // leases.json alone holds every lease
    assertFalse(Files.readString(ledger.file()).contains("vgpus"));
  }

  /** A crash after the lease was recorded: before the type was set, or after. */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void recover_unfinishedLeaseIsRolledBack(boolean typeWasSet) {
    PciAddress vf = devices.virtualFunctions(PF0).get(3);
    VgpuAssignment v = VgpuAssignment.onVf(PF0, vf, B3);
    ledger.allocateVgpus("vm-crash", l -> false, others -> new Lease("vm-crash",
        LeaseOrigin.PROVISION, LeaseState.ALLOCATED, AllocationRequest.builder("vm-crash")
            .selector(DeviceSelector.addresses(List.of(PF0))).build(), List.of(),
        OptionalInt.empty(), List.of(), Instant.now(), Optional.empty(), List.of(v)));
    if (typeWasSet) {
      devices.activate(vf, B3);
    }
    List<String> actions = vgpu.recover();
    assertEquals(List.of(1, List.of(), 0), List.of(actions.size(), ledger.leases(), typedVfs()));
  }

  @Test
  void recover_vfWithATypeAndNoLeaseIsCleared() {
    PciAddress vf = devices.virtualFunctions(PF1).get(0);
    devices.activate(vf, B3);
    Lease kept = vgpu.provision(VgpuRequest.ofType("vm-1", "1147").onNumaNode(0));
    vgpu.recover();
    assertEquals(List.of(0, 1147), List.of(devices.currentType(vf),
        devices.currentType(vfOf(kept))));
  }

  // ---- NVSwitch systems ----------------------------------------------------------------------

  /** The L40S catalogue with a MIG-backed type added, for a host that claims to be HGX. */
  private static java.util.Map<io.gpuvirt.core.pci.PciId, VgpuTypeCatalogue> withMigBacked() {
    VgpuTypeCatalogue l40s = VgpuTypeCatalogue.l40s();
    List<VgpuType> types = new ArrayList<>(l40s.types());
    types.add(new VgpuType(9001, "NVIDIA L40S-1-12CME", io.gpuvirt.core.vgpu.VgpuSeries.C,
        12 * 1024, 4, true));
    return java.util.Map.of(new io.gpuvirt.core.pci.PciId(0x10de, 0x26b9),
        VgpuTypeCatalogue.of("NVIDIA L40S", types, true));
  }

  @Test
  void provision_migBackedTypeOnAnNvswitchSystemIsRefusedWithNvidiasReason() {
    try (SimulatedHost hgx = SimulatedHost.create(HostProfile.l40sVgpu().toBuilder()
        .file("/usr/share/nvidia/nvswitch/fabricmanager.cfg", "FABRIC_MODE=2\n").build())) {
      VgpuDevices d = VgpuDevices.on(hgx.sysfs(), new FakeSriovManage(hgx.sysfs()));
      d.enable(PF0);
      LeaseLedger l = LeaseLedger.open(state.resolve("hgx"));
      VgpuProvisioner p = VgpuProvisioner.on(d, l).withCatalogues(withMigBacked());
      long writes = hgx.writeCount();
      AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
          () -> p.provision(VgpuRequest.ofType("vm-1", "L40S-1-12CME")));
      assertEquals(List.of(true, true, writes, List.of()), List.of(d.nvswitchSystem(),
          e.getMessage().contains("NVIDIA supports only time-sliced vGPUs"), hgx.writeCount(),
          l.leases()));
    }
  }

  @Test
  void provision_migBackedTypeOffNvswitchIsNotRefusedForThatReason() {
    VgpuProvisioner p = vgpu.withCatalogues(withMigBacked());
    assertFalse(devices.nvswitchSystem());
    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> p.provision(VgpuRequest.ofType("vm-1", "L40S-1-12CME")));
    assertFalse(e.getMessage().contains("time-sliced"), e.getMessage());
  }

  @Test
  void nvswitchSystem_isTrueOnHgxH100ByItsNvswitchFunctions() {
    try (SimulatedHost hgx = SimulatedHost.hgxH100()) {
      assertTrue(VgpuDevices.on(hgx.sysfs(), new FakeSriovManage(hgx.sysfs())).nvswitchSystem());
    }
  }
}
