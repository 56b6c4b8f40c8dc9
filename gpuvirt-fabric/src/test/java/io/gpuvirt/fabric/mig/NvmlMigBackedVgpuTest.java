package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.testkit.FakeSriovManage;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fake NVML knows what the simulated driver knows about MIG-backed vGPUs: a GPU instance a
 * vGPU occupies (through a VF of its GPU) is IN_USE to destroy until the vGPU is torn down.
 */
final class NvmlMigBackedVgpuTest {
  private static final PciAddress PF0 = PciAddress.parse("0000:18:00.0");
  private static final MigProfileTable H200 = MigProfileTable.h200();

  @Test
  void destroyGpuInstance_occupiedByAMigBackedVgpu_isInUseUntilTheVgpuIsTornDown() {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.h200Vgpu());
        NvmlMigBackend nvml = NvmlFixture.open(host)) {
      VgpuDevices devices = VgpuDevices.on(host.sysfs(), new FakeSriovManage(host.sysfs()))
          .withRetry(2, Duration.ZERO);
      devices.enable(PF0);
      VgpuProvisioner vgpu = VgpuProvisioner.on(devices,
          LeaseLedger.open(host.root().resolve("var/lib/gpuvirt")));
      nvml.setMode(0, true);
      nvml.reset(0);
      GpuInstance gi = nvml.createGpuInstance(0, H200.profile("1g.18gb"));
      vgpu.provision(VgpuRequest.ofType("vm-1", "NVIDIA H200X-1-18C"));
      nvml.computeInstances(0).forEach(ci -> nvml.destroyComputeInstance(0, ci.gpuInstanceId(),
          ci.id()));

      MigBackendException inUse = assertThrows(MigBackendException.class,
          () -> nvml.destroyGpuInstance(0, gi.id()));
      vgpu.teardown("vm-1");
      nvml.destroyGpuInstance(0, gi.id());

      assertTrue(inUse.getMessage().contains("NVML_ERROR_IN_USE (19): In use by another client"),
          inUse.getMessage());
      assertEquals(List.of(), nvml.layout(0, H200).instances());
    }
  }
}
