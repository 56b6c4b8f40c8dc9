package io.gpuvirt.testkit.provision;

import static io.gpuvirt.core.provision.ProgressEvent.Kind.FAILED;
import static io.gpuvirt.core.provision.ProgressEvent.Kind.FINISHED;
import static io.gpuvirt.core.provision.ProgressEvent.Kind.STARTED;
import static io.gpuvirt.core.provision.ProvisionStep.ACTIVATE_PARTITION;
import static io.gpuvirt.core.provision.ProvisionStep.ALLOCATE;
import static io.gpuvirt.core.provision.ProvisionStep.BIND;
import static io.gpuvirt.core.provision.ProvisionStep.COMMIT;
import static io.gpuvirt.core.provision.ProvisionStep.DEACTIVATE_PARTITION;
import static io.gpuvirt.core.provision.ProvisionStep.RELEASE;
import static io.gpuvirt.core.provision.ProvisionStep.RESET;
import static io.gpuvirt.core.provision.ProvisionStep.RESTORE_DRIVERS;
import static io.gpuvirt.core.provision.ProvisionStep.VERIFY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.FabricFault;
import io.gpuvirt.testkit.fabric.FabricOperation;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The progress events a provisioner reports: each step started and finished, in order. */
final class ProgressEventsTest {
  private static final AllocationRequest TWO = AllocationRequest.builder("vm-7").count(2).build();

  /** An event without its detail and time: what the tests compare. */
  record Seen(ProvisionStep step, ProgressEvent.Kind kind, Optional<PciAddress> device) {
    static Seen of(ProgressEvent e) {
      return new Seen(e.step(), e.kind(), e.device());
    }
  }

  @Test
  void provision_reportsEachStepStartedAndFinishedInOrder_partitionMode() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      List<ProgressEvent> events = new ArrayList<>();

      Provisioned vm = site.provisioner(events::add).provision(TWO);

      List<Seen> expected = new ArrayList<>(pair(ALLOCATE));
      for (LeasedDevice d : vm.lease().requestedDevices()) {
        expected.addAll(List.of(new Seen(RESET, STARTED, Optional.of(d.address())),
            new Seen(RESET, FINISHED, Optional.of(d.address()))));
      }
      expected.addAll(pair(ACTIVATE_PARTITION));
      expected.addAll(pair(BIND));
      expected.addAll(pair(VERIFY));
      expected.addAll(pair(COMMIT));
      assertEquals(expected, seen(events));
    }
  }

  @Test
  void provision_withoutResetInGroupMode_reportsNoResetOrPartitionStep() {
    try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.hgxB200())) {
      List<ProgressEvent> events = new ArrayList<>();

      site.provisioner(site.host().sysfs()).resetBeforeBind(false).listener(events::add).build()
          .provision(TWO);

      List<Seen> expected = new ArrayList<>(pair(ALLOCATE));
      expected.addAll(pair(BIND));
      expected.addAll(pair(VERIFY));
      expected.addAll(pair(COMMIT));
      assertEquals(expected, seen(events));
    }
  }

  @Test
  void teardown_reportsEachStepStartedAndFinishedInOrder() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      site.provisioner().provision(TWO);
      List<ProgressEvent> events = new ArrayList<>();

      site.provisioner(events::add).teardown("vm-7");

      List<Seen> expected = new ArrayList<>(pair(RESTORE_DRIVERS));
      expected.addAll(pair(DEACTIVATE_PARTITION));
      expected.addAll(pair(RELEASE));
      assertEquals(expected, seen(events));
    }
  }

  @Test
  void failingActivation_isReportedFailed_thenOnlyTheLeaseIsReleased() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      site.fabric().inject(FabricFault.fail(FabricOperation.ACTIVATE, FmReturnCode.NVLINK_ERROR));
      List<ProgressEvent> events = new ArrayList<>();

      assertThrows(ProvisioningException.class, () -> site.provisioner(events::add)
          .provision(TWO));

      List<Seen> after = seen(events).subList(seen(events).indexOf(
          new Seen(ACTIVATE_PARTITION, STARTED, Optional.empty())), events.size());
      List<Seen> expected = new ArrayList<>(List.of(
          new Seen(ACTIVATE_PARTITION, STARTED, Optional.empty()),
          new Seen(ACTIVATE_PARTITION, FAILED, Optional.empty())));
      // Nothing was bound and the partition was not activated by this call: the rollback has
      // neither drivers to restore nor a partition to deactivate (it may be someone else's).
      expected.addAll(pair(RELEASE));
      assertEquals(expected, after);
    }
  }

  @Test
  void failedEvent_namesTheCause() {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      site.fabric().inject(FabricFault.fail(FabricOperation.ACTIVATE, FmReturnCode.NVLINK_ERROR));
      List<ProgressEvent> events = new ArrayList<>();

      assertThrows(ProvisioningException.class, () -> site.provisioner(events::add)
          .provision(TWO));

      ProgressEvent failed = events.stream().filter(e -> e.kind() == FAILED).findFirst()
          .orElseThrow();
      assertEquals(List.of(ACTIVATE_PARTITION, true), List.of(failed.step(),
          failed.detail().contains("NVLINK_ERROR")), failed.toString());
    }
  }

  private static List<Seen> pair(ProvisionStep step) {
    return List.of(new Seen(step, STARTED, Optional.empty()),
        new Seen(step, FINISHED, Optional.empty()));
  }

  private static List<Seen> seen(List<ProgressEvent> events) {
    return events.stream().map(Seen::of).toList();
  }
}
