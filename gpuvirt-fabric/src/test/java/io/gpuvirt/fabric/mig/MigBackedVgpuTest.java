package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.mig.MigProvisioner;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.CreatableVgpuTypes;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.testkit.FakeSriovManage;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * MIG slices for VMs as MIG-backed vGPUs, the way OpenNebula consumes MIG (VGPU_MIG.md §7): the
 * operator turns MIG on and carves GPU instances, the driver offers the MIG-backed type on the
 * VFs while a free instance of its profile exists, and each vGPU lease takes one instance through
 * its VF. On the simulated HGX H200 4-GPU board (no NVSwitch), through the nvidia-smi backend.
 */
final class MigBackedVgpuTest {
  private static final PciAddress PF0 = PciAddress.parse("0000:18:00.0");
  private static final MigProfileTable H200 = MigProfileTable.h200();
  private static final String SLICE = "NVIDIA H200X-1-18C";
  private static final String WHOLE = "NVIDIA H200X-141C";

  private SimulatedHost host;
  private MigBackend backend;
  private VgpuDevices devices;
  private LeaseLedger ledger;
  private VgpuProvisioner vgpu;

  @BeforeEach
  void h200HostWithVfsOnGpu0() {
    host = SimulatedHost.create(HostProfile.h200Vgpu());
    backend = NvidiaSmiMigBackend.on(GpuHost.environment(host.root()).commands());
    devices = VgpuDevices.on(host.sysfs(), new FakeSriovManage(host.sysfs()))
        .withRetry(2, Duration.ZERO);
    devices.enable(PF0);
    ledger = LeaseLedger.open(host.root().resolve("var/lib/gpuvirt"));
    vgpu = VgpuProvisioner.on(devices, ledger);
  }

  @AfterEach
  void close() {
    host.close();
  }

  private void migOnGpu0(int slices) {
    backend.setMode(0, true);
    backend.reset(0);
    for (int i = 0; i < slices; i++) {
      backend.createGpuInstance(0, H200.profile("1g.18gb"));
    }
  }

  /** The type names the first free VF of GPU 0 offers now. */
  private List<String> offered() {
    PciAddress vf = devices.capability(PF0).virtualFunctions().stream()
        .filter(v -> devices.currentType(v) == 0).findFirst().orElseThrow();
    return devices.creatable(vf).stream().map(CreatableVgpuTypes.Entry::name).toList();
  }

  /** How many VFs of GPU 0 carry a type. */
  private long typedVfs() {
    return devices.capability(PF0).virtualFunctions().stream()
        .filter(v -> devices.currentType(v) != 0).count();
  }

  @Test
  void migOff_vfsOfferTheTimeSlicedTypeOnly() {
    assertEquals(List.of(WHOLE), offered());
  }

  @Test
  void migOnWithFreeInstances_vfsOfferTheMigBackedTypeOnly() {
    migOnGpu0(2);

    assertEquals(List.of(SLICE), offered());
  }

  @Test
  void migOnWithoutInstances_refusesTheSliceWithNvidiasHintAndRecordsNothing() {
    migOnGpu0(0);

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-1", "H200X-1-18C")));

    assertTrue(e.getMessage().contains("ensure MIG mode is enabled and enough GPU instances have"
        + " been created") && e.getMessage().contains("1g.18gb"), e.getMessage());
    assertEquals(List.of(), ledger.leases());
  }

  @Test
  void sevenSlices_takeSevenVgpus_thenARefusal_thenTeardownInRandomOrderFreesThem() {
    migOnGpu0(7);
    List<String> owners = new ArrayList<>();
    Set<PciAddress> vfs = new TreeSet<>();
    for (int i = 0; i < 7; i++) {
      Lease lease = vgpu.provision(VgpuRequest.ofType("vm-" + i, "1414"));
      owners.add(lease.owner());
      vfs.add(lease.vgpus().get(0).vf().orElseThrow());
    }
    List<String> whenFull = offered();
    AllocationRefusedException full = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-7", "H200X-1-18C")));

    Collections.shuffle(owners, new Random(15));
    owners.forEach(vgpu::teardown);

    assertEquals(List.of(7, List.of(), true, 0L, List.of(SLICE), 7), List.of(vfs.size(),
        whenFull, full.getMessage().contains("7 vGPUs placed"), typedVfs(), offered(),
        backend.layout(0, H200).instances().size()));
  }

  @Test
  void anOccupiedInstance_cannotBeDestroyedNorTheGpuReset_untilTheVgpuIsTornDown() {
    migOnGpu0(1);
    vgpu.provision(VgpuRequest.ofType("vm-1", SLICE));
    GpuInstance gi = backend.layout(0, H200).instances().get(0);
    backend.computeInstances(0).forEach(ci -> backend.destroyComputeInstance(0,
        ci.gpuInstanceId(), ci.id()));

    MigBackendException destroy = assertThrows(MigBackendException.class,
        () -> backend.destroyGpuInstance(0, gi.id()));
    MigBackendException reset = assertThrows(MigBackendException.class, () -> backend.reset(0));
    vgpu.teardown("vm-1");
    backend.destroyGpuInstance(0, gi.id());

    assertTrue(destroy.getMessage().contains("In use by another client"), destroy.getMessage());
    assertTrue(reset.getMessage().contains("In use by another client"), reset.getMessage());
    assertEquals(List.of(), backend.layout(0, H200).instances());
  }

  @Test
  void migApplyProtectingTheLedger_refusesTheGpuOfAMigBackedVgpuAndChangesNothing() {
    migOnGpu0(1);
    vgpu.provision(VgpuRequest.ofType("vm-1", SLICE));
    MigPartedConfig off = MigPartedYaml.parse("version: v1\nmig-configs:\n  all-disabled:\n"
        + "    - devices: all\n      mig-enabled: false\n", "off.yaml");

    MigApplyException e = assertThrows(MigApplyException.class,
        () -> MigConfigurator.on(backend).protecting(ledger).apply(off, "all-disabled"));

    assertTrue(e.getMessage().contains("vm-1"), e.getMessage());
    assertEquals(1, backend.layout(0, H200).instances().size());
  }

  @Test
  void aTimeSlicedTypeOnAGpuInMigMode_isRefusedSayingItOffersOnlyMigBackedTypes() {
    migOnGpu0(1);

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-1", WHOLE)));

    assertTrue(e.getMessage().contains(PF0 + ": no VF offers " + WHOLE) && e.getMessage()
        .contains("only MIG-backed types"), e.getMessage());
  }

  @Test
  void aGpuWithLeasedMigSlices_takesNoVgpu_andAGpuWithVgpusTakesNoSliceLease() {
    migOnGpu0(1);
    MigProvisioner.on(backend, ledger).provision("vm-slice", "1g.18gb");

    AllocationRefusedException onSliced = assertThrows(AllocationRefusedException.class,
        () -> vgpu.provision(VgpuRequest.ofType("vm-1", SLICE)));
    MigProvisioner.on(backend, ledger).teardown("vm-slice");
    vgpu.provision(VgpuRequest.ofType("vm-1", SLICE));
    RuntimeException onVgpu = assertThrows(RuntimeException.class,
        () -> MigProvisioner.on(backend, ledger).provision("vm-slice", "1g.18gb"));

    assertTrue(onSliced.getMessage().contains("MIG slices are leased (to vm-slice)"),
        onSliced.getMessage());
    assertTrue(onVgpu.getMessage().contains("leased to vm-1"), onVgpu.getMessage());
  }
}
