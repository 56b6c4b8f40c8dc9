package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.core.vmplan.VmPlanner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/**
 * gpuvirt-qemu's VM planner in provisioning: the plan a provisioning returns is the command
 * {@code qemu-args} renders for the lease, and a VM QEMU cannot map is never given its GPUs.
 */
final class QemuVmPlannerTest {
  private static final QemuCapabilities CAPS = QemuCapabilities.assumed(QemuVersion.of(9, 2, 0));

  private static QemuCommandBuilder configured(PassthroughDevices devices) {
    return QemuCommandBuilder.forQemu(CAPS).memoryMiB(128 * 1024).cpus(8);
  }

  /** What the host looks like to a tenant: every device's driver state, and the leases. */
  private static List<Object> state(SimulatedHost sim, GpuHost host) {
    List<PciDevice> devices = TopologyScanner.scan(sim.sysfs()).devices();
    return List.of(devices, host.ledger().leases());
  }

  @Test
  void serviceLoader_findsTheQemuPlanner() {
    List<VmPlanner> found = ServiceLoader.load(VmPlanner.class).stream()
        .map(ServiceLoader.Provider::get).toList();

    assertEquals(List.of(QemuVmPlanner.class), found.stream().map(Object::getClass).toList());
  }

  @Test
  void provision_planEqualsTheCommandRenderedForTheSameLease_hgxB200() {
    try (SimulatedHost sim = SimulatedHost.hgxB200(); GpuHost host = GpuHost.open(sim.root())) {
      Provisioner provisioner = host.provisionerBuilder()
          .vmPlanner(QemuVmPlanner.using(QemuVmPlannerTest::configured)).build();

      Provisioned vm = provisioner.provision(AllocationRequest.builder("vm-42").count(4).build());

      Lease lease = host.ledger().lease("vm-42").orElseThrow();
      QemuArgs rendered = configured(null).devices(LeasePassthrough.of(lease)).build();
      assertEquals(rendered, vm.plan().orElseThrow());
      provisioner.teardown("vm-42");
    }
  }

  @Test
  void gpuHost_withGpuvirtQemuPresent_plansEveryProvisioning_hgxH100() {
    try (SimulatedHost sim = SimulatedHost.hgxH100(); GpuHost host = GpuHost.open(sim.root())) {
      Provisioned vm = host.provisioner().provision(
          AllocationRequest.builder("vm-7").count(2).build());

      QemuArgs plan = (QemuArgs) vm.plan().orElseThrow();
      assertEquals(new QemuVmPlanner().plan(vm.lease()), plan);
      assertTrue(plan.devices().stream().map(PlacedDevice::host).toList().containsAll(
          vm.lease().requestedDevices().stream().map(r -> r.address()).toList()), plan.toString());
      host.provisioner().teardown("vm-7");
    }
  }

  @Test
  void gpuHost_graceGb200_plansAnAarch64VirtMachine() {
    try (SimulatedHost sim = SimulatedHost.create(io.gpuvirt.testkit.HostProfile.gb200Nvl4());
        GpuHost host = GpuHost.open(sim.root())) {
      Provisioned vm = host.provisioner().provision(
          AllocationRequest.builder("vm-g").count(2).build());

      QemuArgs plan = (QemuArgs) vm.plan().orElseThrow();
      assertEquals(QemuCommandBuilder.AARCH64_BINARY, plan.argv().get(0));
      assertTrue(String.join(" ", plan.argv()).contains("virt,gic-version=3"), plan.argv()
          .toString());
      host.provisioner().teardown("vm-g");
    }
  }

  @Test
  void provision_apertureBeyondTheHostAddressWidth_rollsBackAndLeavesTheHostAsBefore() {
    try (SimulatedHost sim = SimulatedHost.hgxB200(); GpuHost host = GpuHost.open(sim.root())) {
      List<Object> before = state(sim, host);
      List<Integer> activeBefore = host.fabricManager().listPartitions().stream()
          .filter(p -> p.active()).map(p -> p.id()).toList();
      Provisioner provisioner = host.provisionerBuilder()
          .vmPlanner(QemuVmPlanner.using(d -> configured(d).hostAddressBits(40))).build();

      ProvisioningException e = assertThrows(ProvisioningException.class,
          () -> provisioner.provision(AllocationRequest.builder("vm-8").count(8).build()));

      assertEquals(ProvisionStep.PLAN, e.step());
      assertTrue(e.rolledBack() && e.getMessage().contains("aperture"), e.getMessage());
      assertEquals(before, state(sim, host));
      assertEquals(activeBefore, host.fabricManager().listPartitions().stream()
          .filter(p -> p.active()).map(p -> p.id()).toList());
    }
  }
}
