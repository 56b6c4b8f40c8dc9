package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A VM with several vGPUs on a host without NVSwitch: each on another GPU. */
final class VgpuMultiTest {
  @TempDir Path state;

  private static VgpuDevices enabled(SimulatedHost host) {
    Sysfs sysfs = host.sysfs();
    VgpuDevices devices = VgpuDevices.on(sysfs, new FakeSriovManage(sysfs))
        .withRetry(2, Duration.ZERO);
    devices.capabilities().forEach(c -> devices.enable(c.pf()));
    return devices;
  }

  @Test
  void provision_twoVgpus_oneOnEachGpuAndNoPartition() {
    try (SimulatedHost host = SimulatedHost.l40sVgpu()) {
      VgpuDevices devices = enabled(host);
      Lease lease = VgpuProvisioner.on(devices, LeaseLedger.open(state))
          .provision(VgpuRequest.ofType("vm-2", "L40S-1Q").withCount(2));
      assertEquals(List.of(List.of(PciAddress.parse("0000:3d:00.0"),
          PciAddress.parse("0000:bd:00.0")), OptionalInt.empty(), List.of(1147, 1147)),
          List.of(lease.vgpus().stream().map(VgpuAssignment::pf).toList(), lease.partitionId(),
              lease.vgpus().stream().map(v -> devices.currentType(v.vf().orElseThrow()))
                  .toList()));
    }
  }

  @Test
  void provision_twoVgpusAgain_returnsTheSameLease() {
    try (SimulatedHost host = SimulatedHost.l40sVgpu()) {
      VgpuProvisioner p = VgpuProvisioner.on(enabled(host), LeaseLedger.open(state));
      Lease first = p.provision(VgpuRequest.ofType("vm-2", "L40S-1Q").withCount(2));
      assertEquals(first, p.provision(VgpuRequest.ofType("vm-2", "L40S-1Q").withCount(2)));
    }
  }

  @Test
  void provision_moreVgpusThanGpus_refusedAndNothingChanged() {
    try (SimulatedHost host = SimulatedHost.l40sVgpu()) {
      VgpuDevices devices = enabled(host);
      LeaseLedger ledger = LeaseLedger.open(state);
      long writes = host.writeCount();
      AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
          () -> VgpuProvisioner.on(devices, ledger)
              .provision(VgpuRequest.ofType("vm-3", "L40S-1Q").withCount(3)));
      assertEquals(List.of(true, writes, List.of()), List.of(
          e.getMessage().contains("only 2 GPUs can take one"), host.writeCount(),
          ledger.leases()), e.getMessage());
    }
  }

  @Test
  void provision_twoVgpusOnLegacyMdev_refused() {
    try (SimulatedHost host = SimulatedHost.t4Mdev()) {
      VgpuDevices devices = VgpuDevices.on(host.sysfs(), new FakeSriovManage(host.sysfs()));
      AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
          () -> VgpuProvisioner.on(devices, LeaseLedger.open(state))
              .provision(VgpuRequest.ofType("vm-2", "T4-4Q").withCount(2)));
      assertTrue(e.getMessage().contains("legacy mdev gives a VM one vGPU"), e.getMessage());
    }
  }

  @Test
  void teardown_twoVgpus_clearsBoth() {
    try (SimulatedHost host = SimulatedHost.l40sVgpu()) {
      VgpuDevices devices = enabled(host);
      LeaseLedger ledger = LeaseLedger.open(state);
      VgpuProvisioner p = VgpuProvisioner.on(devices, ledger);
      Lease lease = p.provision(VgpuRequest.ofType("vm-2", "L40S-1Q").withCount(2));
      p.teardown("vm-2");
      assertEquals(List.of(0, 0, List.of()), List.of(
          devices.currentType(lease.vgpus().get(0).vf().orElseThrow()),
          devices.currentType(lease.vgpus().get(1).vf().orElseThrow()), ledger.leases()));
    }
  }
}
