package io.gpuvirt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.qemu.command.LeasePassthrough;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.testkit.Fault;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.FabricFault;
import io.gpuvirt.testkit.fabric.FabricOperation;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * How an integrator tests their own code with the testkit: a simulated host instead of a GPU
 * server, faults injected where the real host would fail, and assertions on what their code did.
 *
 * <p>The code under test is {@link GpuVmService}, standing in for the integrator's VM service:
 * it provisions GPUs with gpuvirt and builds the QEMU command, and must turn every failure into a
 * refusal that leaves the host as it was.
 */
final class IntegratorStyleTest {
  private static final PciAddress WORKSTATION_GPU = PciAddress.parse("0000:01:00.0");
  private static final PciAddress WORKSTATION_AUDIO = PciAddress.parse("0000:01:00.1");

  /** The integrator's code: starts VMs with GPUs, or says why not. */
  static final class GpuVmService {
    private final Provisioner provisioner;

    GpuVmService(Provisioner provisioner) {
      this.provisioner = provisioner;
    }

    /** The QEMU argv of a VM with {@code gpus} GPUs, or the reason it cannot start. */
    Result start(String vm, int gpus) {
      try {
        Provisioned devices = provisioner.provision(
            AllocationRequest.builder(vm).count(gpus).build());
        List<String> argv = QemuCommandBuilder.forQemu(ProvisionOnSimulatedB200.qemu822())
            .memoryMiB(64 * 1024)
            .devices(LeasePassthrough.of(devices.lease()))
            .build()
            .argv();
        return new Result(Optional.of(argv), Optional.empty());
      } catch (AllocationRefusedException | ProvisioningException e) {
        return new Result(Optional.empty(), Optional.of(e.getMessage()));
      }
    }

    record Result(Optional<List<String>> argv, Optional<String> refusal) {}
  }

  private static GpuVmService service(SimulatedHost host) {
    LeaseLedger ledger = LeaseLedger.open(host.root().resolve("var/lib/gpuvirt"));
    return new GpuVmService(Provisioner.builder(host.sysfs(), ledger).build());
  }

  private static String driverOf(SimulatedHost host, PciAddress device) {
    Sysfs sysfs = host.sysfs();
    return sysfs.readLink(device.sysfsPath("driver")).map(l -> l.substring(l.lastIndexOf('/') + 1))
        .orElse("(none)");
  }

  @Test
  void start_workstationGpu_passesTheGpuAndItsAudioFunction() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      List<String> argv = service(host).start("vm-1", 1).argv().orElseThrow();
      assertTrue(argv.contains("vfio-pci,host=0000:01:00.1,id=hostdev0.1,bus=rp0,addr=0x0.1"),
          argv.toString());
    }
  }

  @Test
  void start_workstationGpu_bindsBothFunctionsToVfio() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      service(host).start("vm-1", 1);
      assertEquals(List.of("vfio-pci", "vfio-pci"),
          List.of(driverOf(host, WORKSTATION_GPU), driverOf(host, WORKSTATION_AUDIO)));
    }
  }

  @Test
  void start_gpuBusyOnUnbind_isRefusedNamingTheGpu() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      host.inject(Fault.unbindBusy(WORKSTATION_GPU));
      String refusal = service(host).start("vm-1", 1).refusal().orElseThrow();
      assertTrue(refusal.contains("0000:01:00.0"), refusal);
    }
  }

  @Test
  void start_gpuBusyOnUnbind_leavesTheHostAsItWas() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      host.inject(Fault.unbindBusy(WORKSTATION_GPU));
      service(host).start("vm-1", 1);
      assertEquals(List.of("nvidia", "snd_hda_intel"),
          List.of(driverOf(host, WORKSTATION_GPU), driverOf(host, WORKSTATION_AUDIO)));
    }
  }

  @Test
  void start_moreGpusThanTheHostHas_isRefused() {
    try (SimulatedHost host = SimulatedHost.workstation()) {
      GpuVmService vms = service(host);
      vms.start("vm-1", 1);
      assertTrue(vms.start("vm-2", 1).refusal().isPresent());
    }
  }

  @Test
  void start_fabricManagerFailsActivation_isRefusedAndGpusStayOnNvidia() {
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      SimulatedFabric fabric = SimulatedFabric.underHostRoot(host.root());
      fabric.inject(FabricFault.fail(FabricOperation.ACTIVATE, FmReturnCode.NVLINK_ERROR));
      try (FabricManager fm = fabric.connect()) {
        LeaseLedger ledger = LeaseLedger.open(host.root().resolve("var/lib/gpuvirt"));
        GpuVmService vms = new GpuVmService(Provisioner.builder(host.sysfs(), ledger)
            .partitions(new PartitionContext(fm, host.profile().moduleIds())).build());
        GpuVmService.Result result = vms.start("vm-1", 2);
        assertTrue(result.refusal().orElse("").contains("NVLINK_ERROR")
            && fabric.activePartitionIds().isEmpty()
            && host.profile().gpus().stream()
                .allMatch(g -> driverOf(host, g.address()).equals("nvidia")), result.toString());
      }
    }
  }
}
