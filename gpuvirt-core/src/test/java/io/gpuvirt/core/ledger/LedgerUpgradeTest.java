package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceReset;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.TestHosts;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.vfio.BindingStore;
import io.gpuvirt.core.vfio.DeviceBinding;
import io.gpuvirt.core.vfio.StoredBinding;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** State of gpuvirt 0.1 (ledger format 1, bindings.json) upgraded in place; read-only opens. */
final class LedgerUpgradeTest {
  private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-05T10:00:00Z"),
      ZoneOffset.UTC);
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Topology host = TestHosts.hgxB200();

  @TempDir Path dir;

  private LeaseLedger ledger() {
    return LeaseLedger.open(dir, CLOCK);
  }

  /**
   * A format 1 ledger as gpuvirt 0.1 wrote it: the format 2 file of the same leases without the
   * fields format 2 added.
   */
  private byte[] version1Of(List<Lease> leases) throws Exception {
    ObjectNode tree = (ObjectNode) JSON.readTree(LedgerCodec.encode(leases));
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

  /**
   * A bound lease, with the journal folded into leases.json: gpuvirt 0.1 kept no journal, so its
   * state directory is the one file the tests then rewrite in format 1.
   */
  private Lease bound(String owner, int gpus) {
    ledger().allocate(AllocationRequest.builder(owner).count(gpus).build(), host);
    Lease lease = ledger().updateState(owner, LeaseState.BOUND);
    ledger().compact();
    return lease;
  }

  @Test
  void version1File_readsAsProvisionLeasesWithNothingRecordedBeyondVersion1() throws Exception {
    Lease lease = bound("vm-42", 2);
    Files.write(dir.resolve("leases.json"), version1Of(List.of(lease)));

    Lease read = ledger().lease("vm-42").orElseThrow();

    assertEquals(List.of(LeaseOrigin.PROVISION, LeaseState.BOUND, lease.groupNumbers()),
        List.of(read.origin(), read.state(), read.groupNumbers()));
    assertTrue(read.devices().stream().allMatch(d -> d.vfioDriver().isEmpty()
        && d.originalOverride().isEmpty() && d.reset().isEmpty()));
  }

  @Test
  void version1File_isNotRewrittenByReads() throws Exception {
    byte[] v1 = version1Of(List.of(bound("vm-42", 2)));
    Files.write(dir.resolve("leases.json"), v1);

    ledger().leases();
    ledger().lease("vm-42");
    ledger().reconcile(host, ReconcilePolicy.REPORT_ONLY);

    assertArrayEquals(v1, Files.readAllBytes(dir.resolve("leases.json")));
    assertFalse(Files.exists(dir.resolve("leases.json.v1.bak")));
  }

  @Test
  void version1File_firstChange_writesVersion2AndKeepsTheOldBytes() throws Exception {
    byte[] v1 = version1Of(List.of(bound("vm-42", 2)));
    Files.write(dir.resolve("leases.json"), v1);

    ledger().allocate(AllocationRequest.builder("vm-43").count(1).build(), host);

    assertEquals(2, JSON.readTree(dir.resolve("leases.json").toFile()).get("version").asInt());
    assertArrayEquals(v1, Files.readAllBytes(dir.resolve("leases.json.v1.bak")));
    assertEquals(List.of("vm-42", "vm-43"), ledger().leases().stream().map(Lease::owner).toList());
  }

  private PciAddress gpu(int i) {
    return host.gpus().get(i).address();
  }

  private int group(PciAddress a) {
    return host.require(a).iommuGroup().getAsInt();
  }

  /** gpuvirt 0.1's bindings.json: GPU 0 bound, GPU 1's bind interrupted, GPU 2 was on VFIO. */
  private void legacyBindings() {
    try (BindingStore.Session s = BindingStore.open(dir).lock()) {
      s.replace(List.of(
          new StoredBinding(new DeviceBinding(gpu(0), group(gpu(0)), Optional.of("nvidia"),
              Optional.of("nvidia"), "vfio-pci", true), StoredBinding.Phase.BOUND),
          new StoredBinding(new DeviceBinding(gpu(1), group(gpu(1)), Optional.of("nvidia"),
              Optional.empty(), "vfio-pci", true), StoredBinding.Phase.BINDING),
          new StoredBinding(new DeviceBinding(gpu(2), group(gpu(2)), Optional.of("vfio-pci"),
              Optional.empty(), "vfio-pci", false), StoredBinding.Phase.BOUND)));
    }
  }

  @Test
  void legacyBindings_becomeBindLeasesOnePerGroupWithWhatTheFileRecorded() {
    legacyBindings();

    assertTrue(ledger().upgrade(() -> host));

    Lease first = ledger().lease(LeaseLedger.bindOwner(gpu(0))).orElseThrow();
    LeasedDevice d = first.device(gpu(0)).orElseThrow();
    assertEquals(List.of(LeaseOrigin.BIND, LeaseState.BOUND, Optional.of("nvidia"),
        Optional.of("nvidia"), Optional.of("vfio-pci"), true), List.of(first.origin(),
        first.state(), d.originalDriver(), d.originalOverride(), d.vfioDriver(),
        d.movedByGpuvirt()));
  }

  @Test
  void legacyBindings_interruptedBind_becomesABindingLeaseForRecovery() {
    legacyBindings();
    ledger().upgrade(() -> host);

    assertEquals(LeaseState.BINDING,
        ledger().lease(LeaseLedger.bindOwner(gpu(1))).orElseThrow().state());
  }

  @Test
  void legacyBindings_deviceAlreadyOnVfio_staysThereWhenTheLeaseEnds() {
    legacyBindings();
    ledger().upgrade(() -> host);

    LeasedDevice d = ledger().lease(LeaseLedger.bindOwner(gpu(2))).orElseThrow()
        .device(gpu(2)).orElseThrow();
    assertEquals(List.of(Optional.of("vfio-pci"), false), List.of(d.originalDriver(),
        d.movedByGpuvirt()));
  }

  @Test
  void legacyBindings_fileKeptAsBackupOnceConverted() {
    legacyBindings();

    ledger().upgrade(() -> host);

    assertEquals(List.of(false, true), List.of(Files.exists(dir.resolve("bindings.json")),
        Files.exists(dir.resolve("bindings.json.v1.bak"))));
  }

  @Test
  void legacyBindings_convertedTwice_addNothing() throws Exception {
    legacyBindings();
    ledger().upgrade(() -> host);
    // A crash after the ledger was written, before bindings.json was renamed.
    Files.copy(dir.resolve("bindings.json.v1.bak"), dir.resolve("bindings.json"));

    ledger().upgrade(() -> host);

    assertEquals(3, ledger().leases().size());
  }

  @Test
  void legacyBindings_areSeenByAllocationBeforeItChooses() {
    legacyBindings();

    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(5).build(), host);

    assertTrue(lease.devices().stream().noneMatch(d -> d.address().equals(gpu(0))
        || d.address().equals(gpu(1)) || d.address().equals(gpu(2))), lease.toString());
  }

  @Test
  void legacyBindings_readOnlyListing_showsThemWithoutConverting() {
    legacyBindings();

    List<Lease> shown = ledger().leases(host);

    assertEquals(List.of(3, true, 0), List.of(shown.size(),
        Files.exists(dir.resolve("bindings.json")), ledger().leases().size()));
  }

  @Test
  void open_missingDirectory_createsNothing() {
    Path missing = dir.resolve("not-yet");

    LeaseLedger ledger = LeaseLedger.open(missing, CLOCK);
    ledger.leases();
    ledger.lease("vm-1");
    ledger.reconcile(host, ReconcilePolicy.REPORT_ONLY);

    assertFalse(Files.exists(missing));
  }

  @Test
  void open_missingDirectory_firstChangeCreatesIt() {
    Path missing = dir.resolve("not-yet");

    LeaseLedger.open(missing, CLOCK).allocate(AllocationRequest.builder("vm-1").count(1).build(),
        host);

    assertTrue(Files.isRegularFile(missing.resolve("leases.json")));
  }

  @Test
  void open_danglingLedgerSymlink_isRefusedNotTakenForEmpty() throws Exception {
    Files.createSymbolicLink(dir.resolve("leases.json"), dir.resolve("elsewhere/leases.json"));

    LedgerException e = assertThrows(LedgerException.class, () -> ledger());

    assertTrue(e.getMessage().contains("symbolic link to a file that does not exist"),
        e.getMessage());
  }

  @Test
  void update_recordsVfioDriverAndResetDurably() {
    ledger().allocate(AllocationRequest.builder("vm-1").count(1).build(), host);

    ledger().update("vm-1", l -> l.withDevices(d -> d.withVfioDriver("vfio-pci")
        .withReset(new DeviceReset("nvidia", List.of("flr", "bus")))));

    LeasedDevice d = ledger().lease("vm-1").orElseThrow().devices().get(0);
    assertEquals(List.of(Optional.of("vfio-pci"),
        Optional.of(new DeviceReset("nvidia", List.of("flr", "bus")))),
        List.of(d.vfioDriver(), d.reset()));
  }

  @Test
  void update_addingADeviceAnotherLeaseHolds_isRefused() {
    Lease a = ledger().allocate(AllocationRequest.builder("vm-1").count(1).build(), host);
    Lease b = ledger().allocate(AllocationRequest.builder("vm-2").count(1).build(), host);

    assertThrows(InvalidValueException.class, () -> ledger().update("vm-2",
        l -> new Lease(l.owner(), l.origin(), l.state(), l.request(), a.groups(),
            l.partitionId(), l.reasons(), l.createdAt())));
    assertEquals(b, ledger().lease("vm-2").orElseThrow());
  }

  @Test
  void allocate_deviceOnVfioWithoutALease_isNotACandidate() {
    PciDevice first = host.gpus().get(0);
    io.gpuvirt.core.alloc.TestHost h = TestHosts.b200Builder();
    h.modify(first.address().toString(), b -> b.driver("vfio-pci"));
    Topology withVfio = h.build();

    Lease lease = ledger().allocate(AllocationRequest.builder("vm-1").count(7).build(), withVfio);

    assertTrue(lease.device(first.address()).isEmpty(), lease.toString());
  }
}
