package io.gpuvirt.testkit.grace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.vfio.VfioDriverRule;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Provisioning on the GB200 NVL4 host is the HGX flow with the driver the rule picks: the GPUs go
 * to {@code nvgrace_gpu_vfio_pci}, the lease records it, and teardown puts them back on nvidia.
 */
final class GraceProvisionTest {
  @TempDir Path state;

  private static List<String> drivers(Topology t) {
    return t.gpus().stream().map(g -> g.address() + " " + g.driver().orElse("-")).toList();
  }

  @ParameterizedTest(name = "{0} GPUs")
  @ValueSource(ints = {1, 2, 4})
  void provision_gpus_bindsThemToTheGraceVariantDriverAndTeardownRestoresNvidia(int count) {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.gb200Nvl4())) {
      List<String> before = drivers(TopologyScanner.scan(host.sysfs()));
      Provisioner p = Provisioner.builder(host.sysfs(), LeaseLedger.open(state)).build();

      Provisioned done = p.provision(AllocationRequest.builder("vm-1").count(count).build());
      Topology bound = TopologyScanner.scan(host.sysfs());
      List<LeasedDevice> leased = done.lease().passedThroughDevices();
      List<String> onVariant = leased.stream().map(d -> bound.require(d.address()).driver()
          .orElse("-") + " " + d.vfioDriver().orElse("-")).distinct().toList();
      boolean nodes = done.vfioGroups().stream()
          .allMatch(n -> host.sysfs().exists(n.groupNode()));
      p.teardown("vm-1");

      assertEquals(List.of(count, List.of("nvgrace_gpu_vfio_pci nvgrace_gpu_vfio_pci"), true,
          before), List.of(leased.size(), onVariant, nodes,
              drivers(TopologyScanner.scan(host.sysfs()))));
    }
  }

  @Test
  void provision_withVfioDriverSet_usesThatDriverForGraceGpusToo() {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.gb200Nvl4())) {
      Provisioner p = Provisioner.builder(host.sysfs(), LeaseLedger.open(state))
          .vfioDriver("vfio-pci").build();
      Provisioned done = p.provision(AllocationRequest.builder("vm-1").count(1).build());
      PciDevice gpu = TopologyScanner.scan(host.sysfs())
          .require(done.lease().passedThroughDevices().get(0).address());
      assertEquals(Optional.of("vfio-pci"), gpu.driver());
    }
  }

  @Test
  void provision_onB200_staysOnVfioPci() {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.hgxB200())) {
      Provisioner p = Provisioner.builder(host.sysfs(), LeaseLedger.open(state)).build();
      Provisioned done = p.provision(AllocationRequest.builder("vm-1").count(1).build());
      assertEquals(Optional.of("vfio-pci"),
          done.lease().passedThroughDevices().get(0).vfioDriver());
    }
  }

  @Test
  void provision_withoutTheVariantDriverLoaded_failsNamingItAndChangesNothing() {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.gb200Nvl4().toBuilder()
        .unloadDriver("nvgrace_gpu_vfio_pci").build())) {
      List<String> before = drivers(TopologyScanner.scan(host.sysfs()));
      LeaseLedger ledger = LeaseLedger.open(state);
      Provisioner p = Provisioner.builder(host.sysfs(), ledger).build();
      RuntimeException e = assertThrows(RuntimeException.class,
          () -> p.provision(AllocationRequest.builder("vm-1").count(1).build()));
      assertTrue(e.getMessage().contains("nvgrace_gpu_vfio_pci"), e.getMessage());
      assertEquals(List.of(before, List.of()), List.of(drivers(TopologyScanner.scan(
          host.sysfs())), ledger.leases()));
    }
  }

  @Test
  void provision_withARuleThatSendsGb200ToVfioPci_bindsVfioPci() {
    try (SimulatedHost host = SimulatedHost.create(HostProfile.gb200Nvl4())) {
      Provisioner p = Provisioner.builder(host.sysfs(), LeaseLedger.open(state))
          .vfioDriverRule(VfioDriverRule.builder().build()).build();
      Provisioned done = p.provision(AllocationRequest.builder("vm-1").count(2).build());
      assertEquals(List.of(Optional.of("vfio-pci")), done.lease().passedThroughDevices().stream()
          .map(LeasedDevice::vfioDriver).distinct().toList());
    }
  }

}
