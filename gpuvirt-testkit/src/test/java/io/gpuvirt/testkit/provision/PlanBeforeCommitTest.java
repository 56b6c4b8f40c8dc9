package io.gpuvirt.testkit.provision;

import static io.gpuvirt.core.provision.ProgressEvent.Kind.FAILED;
import static io.gpuvirt.core.provision.ProgressEvent.Kind.FINISHED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.core.vmplan.VmPlan;
import io.gpuvirt.core.vmplan.VmPlanException;
import io.gpuvirt.core.vmplan.VmPlanner;
import io.gpuvirt.testkit.ForwardingSysfs;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Provisioning plans the VM before it changes the host: a plan that cannot be made leaves the
 * host, the Fabric Manager and the ledger exactly as they were, and the one scan of the host a
 * provisioning makes is the only one.
 */
final class PlanBeforeCommitTest {
  private static final AllocationRequest FOUR = AllocationRequest.builder("vm-plan").count(4)
      .build();

  /**
   * A small real planner: lays the lease's devices out one after another in a 64-bit aperture of
   * a fixed size, one line per device, and refuses the first device whose BARs do not fit.
   */
  record ApertureBudgetPlanner(long apertureBytes) implements VmPlanner {
    record Plan(List<String> describe, List<String> argv) implements VmPlan {}

    @Override
    public VmPlan plan(Lease lease) {
      List<String> lines = new ArrayList<>();
      List<String> argv = new ArrayList<>(List.of("vm-launcher", "--name", lease.owner()));
      long used = 0;
      for (LeasedDevice d : lease.passedThroughDevices()) {
        long size = d.bars().stream().filter(Bar::is64Bit).mapToLong(Bar::size).sum();
        if (used + size > apertureBytes) {
          throw new VmPlanException(d.address(), d.address() + " needs " + size
              + " bytes of 64-bit MMIO but only " + (apertureBytes - used) + " of the "
              + apertureBytes + "-byte aperture are left; give the VM fewer devices or a larger"
              + " aperture");
        }
        used += size;
        lines.add(d.address() + " at aperture offset " + (used - size));
        argv.add("--device=" + d.address());
      }
      return new Plan(List.copyOf(lines), List.copyOf(argv));
    }
  }

  /** Counts full topology scans: each starts by listing {@code /sys/bus/pci/devices}. */
  static final class CountingSysfs extends ForwardingSysfs {
    int scans;

    CountingSysfs(Sysfs host) {
      super(host);
    }

    @Override
    public List<String> list(String directory) {
      if (directory.equals("/sys/bus/pci/devices")) {
        scans++;
      }
      return super.list(directory);
    }
  }

  @Test
  void provision_planThatCannotFit_rollsBackAndLeavesTheHostAsBefore_partitionMode() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot before = site.snapshot();
      List<ProgressEvent> events = new ArrayList<>();
      Provisioner provisioner = site.provisioner(site.host().sysfs()).listener(events::add)
          .vmPlanner(new ApertureBudgetPlanner(1L << 30)).build();

      ProvisioningException e = assertThrows(ProvisioningException.class,
          () -> provisioner.provision(FOUR));

      assertEquals(ProvisionStep.PLAN, e.step());
      assertTrue(e.rolledBack());
      assertTrue(e.getMessage().contains("aperture"), e.getMessage());
      assertTrue(e.device().isPresent(), "names the device: " + e.getMessage());
      assertTrue(events.stream().anyMatch(ev -> ev.step() == ProvisionStep.PLAN
          && ev.kind() == FAILED), "PLAN failed reported: " + events);
      HostSnapshot.assertUnchanged(before, site.snapshot(), "after a failed plan");
    }
  }

  @Test
  void provision_planThatCannotFit_changesNothingOnTheHost() {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      List<String> writes = new ArrayList<>();
      Sysfs recording = new ForwardingSysfs(site.host().sysfs()) {
        @Override
        public void write(String path, String value) {
          writes.add(path);
          super.write(path, value);
        }
      };
      Provisioner provisioner = site.provisioner(recording)
          .vmPlanner(new ApertureBudgetPlanner(1L << 30)).build();

      assertThrows(ProvisioningException.class, () -> provisioner.provision(FOUR));

      assertEquals(List.of(), writes, "no sysfs write before the plan is made");
      assertTrue(site.ledger().leases().isEmpty(), "lease released");
    }
  }

  @Test
  void provision_planThatCannotFit_keepsAReservationMadeBefore() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Lease reserved = site.reserve(FOUR);
      HostSnapshot before = site.snapshot();
      Provisioner provisioner = site.provisioner(site.host().sysfs())
          .vmPlanner(new ApertureBudgetPlanner(1L << 30)).build();

      assertThrows(ProvisioningException.class, () -> provisioner.provision(FOUR));

      HostSnapshot.assertUnchanged(before, site.snapshot(), "after a failed plan");
      assertEquals(LeaseState.ALLOCATED, site.ledger().lease("vm-plan").orElseThrow().state());
      assertEquals(reserved.groupNumbers(),
          site.ledger().lease("vm-plan").orElseThrow().groupNumbers());
    }
  }

  @Test
  void provision_withAPlanner_returnsThePlanOfTheCommittedLease() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      ApertureBudgetPlanner planner = new ApertureBudgetPlanner(Long.MAX_VALUE);
      List<ProgressEvent> events = new ArrayList<>();
      Provisioner provisioner = site.provisioner(site.host().sysfs()).listener(events::add)
          .vmPlanner(planner).build();

      Provisioned vm = provisioner.provision(FOUR);

      assertEquals(Optional.of(planner.plan(vm.lease())), vm.plan());
      assertTrue(events.stream().anyMatch(ev -> ev.step() == ProvisionStep.PLAN
          && ev.kind() == FINISHED), "PLAN finished reported: " + events);
      assertEquals(vm.plan(), provisioner.provision(FOUR).plan(), "the same plan when repeated");
    }
  }

  @Test
  void provision_withoutAPlanner_hasNoPlan() {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.workstation())) {
      Provisioned vm = site.provisioner().provision(AllocationRequest.builder("vm-1").count(1)
          .build());

      assertFalse(vm.plan().isPresent());
    }
  }

  @Test
  void provisionAndTeardown_scanTheHostOnceEach() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      CountingSysfs counting = new CountingSysfs(site.host().sysfs());
      Provisioner provisioner = site.provisioner(counting)
          .vmPlanner(new ApertureBudgetPlanner(Long.MAX_VALUE)).build();

      provisioner.provision(AllocationRequest.builder("vm-8").count(8).build());
      int provisionScans = counting.scans;
      provisioner.teardown("vm-8");

      assertEquals(List.of(1, 1), List.of(provisionScans, counting.scans - provisionScans),
          "full scans in provision, teardown");
    }
  }

  @Test
  void provision_alreadyProvisioned_scansNothing() {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      CountingSysfs counting = new CountingSysfs(site.host().sysfs());
      Provisioner provisioner = site.provisioner(counting).build();
      provisioner.provision(FOUR);
      int first = counting.scans;

      provisioner.provision(FOUR);

      assertEquals(first, counting.scans, "a repeated request reads only the leased devices");
    }
  }

  @Test
  void apertureBudgetPlanner_namesTheDeviceThatDoesNotFit() {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      Lease lease = site.reserve(FOUR);
      PciAddress second = lease.passedThroughDevices().stream()
          .filter(d -> d.bars().stream().anyMatch(Bar::is64Bit)).skip(1).findFirst()
          .orElseThrow().address();
      long one = lease.passedThroughDevices().get(0).bars().stream().filter(Bar::is64Bit)
          .mapToLong(Bar::size).sum();

      VmPlanException e = assertThrows(VmPlanException.class,
          () -> new ApertureBudgetPlanner(one).plan(lease));

      assertEquals(Optional.of(second), e.device());
    }
  }
}
