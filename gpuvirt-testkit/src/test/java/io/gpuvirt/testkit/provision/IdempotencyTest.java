package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Provisioning and teardown are idempotent by owner. */
final class IdempotencyTest {
  private static final AllocationRequest FOUR = AllocationRequest.builder("vm-42").count(4).build();

  @Test
  void provisionTwice_returnsTheSameLeaseAlreadyProvisioned() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Provisioned first = site.provisioner().provision(FOUR);

      Provisioned second = site.provisioner().provision(FOUR);

      assertEquals(new Provisioned(first.lease(), first.vfioGroups(), first.plan(), true), second);
    }
  }

  @Test
  void provisionTwice_theSecondChangesNothingOnTheHost() {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      site.provisioner().provision(FOUR);
      HostSnapshot before = site.snapshot();
      long writes = site.host().writeCount();

      site.provisioner().provision(FOUR);

      HostSnapshot.assertUnchanged(before, site.snapshot(), "second provision");
      assertEquals(writes, site.host().writeCount(), "sysfs writes by the second provision");
    }
  }

  @Test
  void provisionAgain_afterADeviceLeftVfio_failsAtVerifyAndChangesNothing() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Provisioned vm = site.provisioner().provision(FOUR);
      PciAddress gpu = vm.lease().requestedDevices().get(1).address();
      site.host().sysfs().write("/sys/bus/pci/drivers/vfio-pci/unbind", gpu.toString());
      HostSnapshot before = site.snapshot();

      ProvisioningException e = assertThrows(ProvisioningException.class,
          () -> site.provisioner().provision(FOUR));

      assertEquals(List.of(ProvisionStep.VERIFY, Optional.of(gpu)), List.of(e.step(), e.device()),
          e.getMessage());
      HostSnapshot.assertUnchanged(before, site.snapshot(), "second provision");
    }
  }

  @Test
  void provisionOfABoundOwner_withAnotherRequest_isRefusedAndChangesNothing() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      site.provisioner().provision(FOUR);
      HostSnapshot before = site.snapshot();

      assertThrows(AllocationRefusedException.class, () -> site.provisioner()
          .provision(AllocationRequest.builder("vm-42").count(2).build()));

      HostSnapshot.assertUnchanged(before, site.snapshot(), "refused provision");
    }
  }

  @Test
  void provisionOfAReservedOwner_bindsTheReservedDevices() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Lease reserved = site.reserve(FOUR);

      Lease bound = site.provisioner().provision(FOUR).lease();

      assertEquals(List.of(LeaseState.BOUND, reserved.groupNumbers(), reserved.partitionId()),
          List.of(bound.state(), bound.groupNumbers(), bound.partitionId()));
    }
  }

  @Test
  void teardownTwice_theSecondReturnsFalse() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      site.provisioner().provision(FOUR);

      boolean first = site.provisioner().teardown("vm-42");
      boolean second = site.provisioner().teardown("vm-42");

      assertEquals(List.of(true, false), List.of(first, second));
    }
  }

  @Test
  void teardownOfAnUnknownOwner_returnsFalseAndChangesNothing() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      site.provisioner().provision(FOUR);
      HostSnapshot before = site.snapshot();

      assertFalse(site.provisioner().teardown("vm-unknown"));
      HostSnapshot.assertUnchanged(before, site.snapshot(), "teardown of an unknown owner");
    }
  }

  @Test
  void teardownOnAHostWithoutAStateDirectory_returnsFalseAndCreatesNothing() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Path state = site.ledger().stateDirectory();

      assertFalse(site.provisioner().teardown("vm-42"));
      assertFalse(Files.exists(state), state + " was created");
    }
  }

  @Test
  void teardownOfAReservation_releasesItWithoutTouchingTheHost() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      HostSnapshot before = site.snapshot();
      site.reserve(FOUR);
      long writes = site.host().writeCount();

      assertTrue(site.provisioner().teardown("vm-42"));
      HostSnapshot.assertUnchanged(before, site.snapshot(), "teardown of a reservation");
      assertEquals(writes, site.host().writeCount(), "sysfs writes");
    }
  }
}
