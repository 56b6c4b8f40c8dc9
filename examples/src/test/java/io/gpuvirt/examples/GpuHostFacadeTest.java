package io.gpuvirt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The README's integrator lines, run as written, on simulated hosts. */
final class GpuHostFacadeTest {
  private static List<Optional<String>> gpuDrivers(SimulatedHost h) {
    return io.gpuvirt.core.pci.TopologyScanner.scan(h.sysfs()).gpus().stream()
        .map(PciDevice::driver).toList();
  }

  @Test
  void hgxB200_provisionsAPartitionAndTearsDownToTheHostAsBefore() {
    try (SimulatedHost sim = SimulatedHost.hgxB200()) {
      List<Optional<String>> before = gpuDrivers(sim);
      try (GpuHost host = GpuHost.open(sim.root())) {
        Provisioner provisioner = host.provisioner();
        provisioner.recover();
        Provisioned vm = provisioner.provision(AllocationRequest.builder("vm-42").count(4).build());
        assertTrue(vm.lease().partitionId().isPresent(), vm.lease().toString());
        assertEquals(4, vm.lease().requestedDevices().size());
        provisioner.teardown("vm-42");
      }
      assertEquals(before, gpuDrivers(sim));
    }
  }

  @Test
  void hgxH100_provisionsAndTearsDown() {
    try (SimulatedHost sim = SimulatedHost.hgxH100()) {
      List<Optional<String>> before = gpuDrivers(sim);
      try (GpuHost host = GpuHost.open(sim.root())) {
        Provisioner provisioner = host.provisioner();
        Provisioned vm = provisioner.provision(AllocationRequest.builder("vm-7").count(2).build());
        assertEquals(2, vm.lease().requestedDevices().size());
        provisioner.teardown("vm-7");
      }
      assertEquals(before, gpuDrivers(sim));
    }
  }

  @Test
  void workstation_hasNoFabricManagerAndProvisionsByGroups() {
    try (SimulatedHost sim = SimulatedHost.workstation(); GpuHost host = GpuHost.open(sim.root())) {
      Provisioned vm = host.provisioner().provision(
          AllocationRequest.builder("vm-1").count(1).build());
      assertEquals(List.of(false, true), List.of(host.hasFabricManager(),
          vm.lease().partitionId().isEmpty()));
      host.provisioner().teardown("vm-1");
    }
  }
}
