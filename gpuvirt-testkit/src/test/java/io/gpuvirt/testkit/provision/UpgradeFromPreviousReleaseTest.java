package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.RecoveryReport;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.BindingStore;
import io.gpuvirt.core.vfio.DeviceBinding;
import io.gpuvirt.core.vfio.StoredBinding;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * A host that gpuvirt 0.1 left behind, taken over by this release: two VMs provisioned (a version
 * 1 {@code leases.json}), two GPUs bound with {@code gpuvirt bind} (a {@code bindings.json}, phase
 * BOUND, one of them with a {@code driver_override} an admin had pinned) and one bind that was
 * interrupted after the device moved (phase BINDING), on a simulated HGX B200 in partition mode.
 * {@code recover()} converts the state; tearing down every VM and restoring every binding then
 * leaves the host exactly as it was before 0.1 touched it, with the old files kept as backups.
 */
final class UpgradeFromPreviousReleaseTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> VMS = List.of("vm-old-1", "vm-old-2");

  @Test
  void stateOfRelease01_recoverConvertsIt_teardownAndRestoreLeaveTheHostAsBefore()
      throws Exception {
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      Path state = site.ledger().stateDirectory();
      Topology topology = site.scan();
      List<PciAddress> spare = site.scan().gpus().stream().map(PciDevice::address).toList();
      PciAddress pinned = spare.get(spare.size() - 1);
      site.host().sysfs().write(pinned.sysfsPath("driver_override"), "nvidia");
      HostSnapshot before = site.snapshot();

      // What 0.1 did: provision two VMs ...
      Provisioner current = site.provisioner();
      for (String vm : VMS) {
        current.provision(AllocationRequest.builder(vm).count(2).build());
      }
      Set<PciAddress> provisioned = new TreeSet<>();
      site.ledger().leases().forEach(l -> l.devices().forEach(d -> provisioned.add(d.address())));
      List<PciAddress> free = spare.stream().filter(a -> !provisioned.contains(a)).toList();
      List<PciAddress> bound = List.of(free.get(free.size() - 1), free.get(free.size() - 2));
      PciAddress interrupted = free.get(0);
      assertTrue(bound.contains(pinned), "the GPU with a pinned driver_override is bound");

      // ... and bind two GPUs and a third whose bind was cut short once the device had moved.
      VfioBinder binder = VfioBinder.on(site.host().sysfs());
      List<StoredBinding> bindings = new ArrayList<>();
      for (PciAddress gpu : bound) {
        for (DeviceBinding b : binder.bind(request(topology, gpu)).devices()) {
          bindings.add(new StoredBinding(b, StoredBinding.Phase.BOUND));
        }
      }
      for (DeviceBinding b : binder.bind(request(topology, interrupted)).devices()) {
        bindings.add(new StoredBinding(b, StoredBinding.Phase.BINDING));
      }
      try (BindingStore.Session session = BindingStore.open(state).lock()) {
        session.replace(bindings);
      }
      // 0.1 kept no journal: its whole state was leases.json.
      site.ledger().compact();
      byte[] leasesV1 = version1(Files.readAllBytes(state.resolve("leases.json")));
      Files.write(state.resolve("leases.json"), leasesV1);
      byte[] bindingsV1 = Files.readAllBytes(state.resolve(BindingStore.FILE));

      // This release takes over.
      RecoveryReport report = site.provisioner().recover();

      assertTrue(report.clean(), "recovery failed: " + report.failures());
      List<Lease> leases = site.ledger().leases();
      assertEquals(VMS, leases.stream().filter(l -> l.origin() == LeaseOrigin.PROVISION)
          .map(Lease::owner).toList(), "provisioned leases after the upgrade: " + leases);
      assertTrue(leases.stream().filter(l -> l.origin() == LeaseOrigin.PROVISION)
          .allMatch(l -> l.state() == LeaseState.BOUND && l.partitionId().isPresent()),
          "provisioned leases after the upgrade: " + leases);
      List<Lease> binds = leases.stream().filter(l -> l.origin() == LeaseOrigin.BIND).toList();
      assertEquals(bound.stream().map(LeaseLedger::bindOwner).sorted().toList(),
          binds.stream().map(Lease::owner).toList(), "bind leases after the upgrade "
          + report.actions());
      assertTrue(binds.stream().allMatch(l -> l.state() == LeaseState.BOUND),
          "bind leases after the upgrade: " + binds);
      LeasedDevice pinnedRecord = binds.stream().flatMap(l -> l.device(pinned).stream())
          .findFirst().orElseThrow();
      assertEquals(List.of(Optional.of("nvidia"), Optional.of("nvidia"),
          Optional.of(BindRequest.VFIO_PCI)), List.of(pinnedRecord.originalDriver(),
          pinnedRecord.originalOverride(), pinnedRecord.vfioDriver()),
          "the lease of " + pinned + " records what bindings.json said");
      assertTrue(leases.stream().noneMatch(l -> l.device(interrupted).isPresent()),
          "the interrupted bind of " + interrupted + " is rolled back: " + leases);
      assertEquals(Optional.of("nvidia"), site.scan().require(interrupted).driver(),
          "the interrupted bind of " + interrupted + " is rolled back");
      assertArrayEquals(leasesV1, Files.readAllBytes(state.resolve("leases.json.v1.bak")),
          "leases.json.v1.bak holds the version 1 file");
      assertArrayEquals(bindingsV1, Files.readAllBytes(state.resolve("bindings.json.v1.bak")),
          "bindings.json.v1.bak holds the old bindings");
      assertFalse(Files.exists(state.resolve(BindingStore.FILE)), "bindings.json is converted");
      assertEquals(2, JSON.readTree(state.resolve("leases.json").toFile()).get("version").asInt());

      Provisioner after = site.provisioner();
      for (String vm : VMS) {
        assertTrue(after.teardown(vm), vm + " held a lease");
      }
      after.restore(bound);

      assertEquals(List.of(), site.ledger().leases(), "leases left");
      HostSnapshot.assertUnchanged(before, site.snapshot(),
          "after tearing down and restoring everything 0.1 left");
    }
  }

  private static BindRequest request(Topology topology, PciAddress gpu) {
    return BindRequest.builder().devices(OwnershipPropertyTest.groupEndpoints(topology, gpu))
        .driver(BindRequest.VFIO_PCI).resetBeforeBind(false).build();
  }

  /** A version 2 ledger as gpuvirt 0.1 wrote it: version 1, without what version 2 added. */
  private static byte[] version1(byte[] version2) throws Exception {
    ObjectNode tree = (ObjectNode) JSON.readTree(version2);
    assertEquals(2, tree.get("version").asInt(), "the current ledger format");
    tree.put("version", 1);
    for (JsonNode lease : tree.get("leases")) {
      ((ObjectNode) lease).remove("origin");
      for (JsonNode group : lease.get("groups")) {
        for (JsonNode device : group.get("devices")) {
          ((ObjectNode) device).remove(List.of("originalOverride", "vfioDriver", "reset"));
        }
      }
    }
    return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(tree);
  }
}
