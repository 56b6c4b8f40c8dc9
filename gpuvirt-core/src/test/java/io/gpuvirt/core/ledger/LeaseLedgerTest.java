package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.B200FabricManager;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.alloc.TestHosts;
import io.gpuvirt.core.pci.Topology;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class LeaseLedgerTest {
  private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-05T10:00:00.123456789Z"),
      ZoneOffset.UTC);
  private final Topology host = TestHosts.hgxB200();

  @TempDir
  Path dir;

  private LeaseLedger ledger() {
    return LeaseLedger.open(dir, CLOCK);
  }

  private static AllocationRequest gpus(String owner, int n) {
    return AllocationRequest.builder(owner).count(n).build();
  }

  @Test
  void allocate_sameOwnerTwice_returnsTheSameLease() {
    Lease first = ledger().allocate(gpus("vm-42", 2), host);

    Lease again = ledger().allocate(gpus("vm-42", 2), host);

    assertEquals(first, again);
  }

  @Test
  void allocate_sameOwnerTwice_leasesOnce() {
    ledger().allocate(gpus("vm-42", 2), host);
    ledger().allocate(gpus("vm-42", 2), host);

    assertEquals(1, ledger().leases().size());
  }

  @Test
  void allocate_sameOwnerOtherRequest_isRefused() {
    ledger().allocate(gpus("vm-42", 2), host);

    AllocationRefusedException e = assertThrows(AllocationRefusedException.class,
        () -> ledger().allocate(gpus("vm-42", 4), host));

    assertTrue(e.getMessage().contains("release it first"), e.getMessage());
  }

  @Test
  void allocate_lease_readsBackEqualFromAnotherInstance() {
    Lease lease = ledger().allocate(gpus("vm-42", 4), host);

    assertEquals(Optional.of(lease), LeaseLedger.open(dir).lease("vm-42"));
  }

  @Test
  void allocate_partitionLease_readsBackWithPartitionAndModuleIds() {
    PartitionContext fm = new PartitionContext(new B200FabricManager(), TestHosts.b200ModuleIds());
    Lease lease = ledger().allocate(gpus("vm-42", 2), host, fm);

    Lease back = LeaseLedger.open(dir).lease("vm-42").orElseThrow();

    assertEquals(List.of(lease, OptionalInt.of(4)), List.of(back, back.partitionId()));
  }

  @Test
  void allocate_refused_leavesTheFileUnchanged() throws Exception {
    ledger().allocate(gpus("vm-1", 6), host);
    byte[] before = Files.readAllBytes(ledger().file());

    assertThrows(AllocationRefusedException.class, () -> ledger().allocate(gpus("vm-2", 4), host));

    assertArrayEquals(before, Files.readAllBytes(ledger().file()));
  }

  @Test
  void release_removesTheLeaseAndFreesItsGroups() {
    ledger().allocate(gpus("vm-1", 8), host);

    ledger().release("vm-1");

    assertEquals(8, ledger().allocate(gpus("vm-2", 8), host).groups().size());
  }

  @Test
  void release_unknownOwner_changesNothing() {
    ledger().allocate(gpus("vm-1", 1), host);

    assertEquals(List.of(Optional.empty(), 1),
        List.of(ledger().release("vm-9"), ledger().leases().size()));
  }

  @Test
  void release_invalidOwner_isRejected() {
    assertThrows(InvalidValueException.class, () -> ledger().release("../etc"));
  }

  @Test
  void updateState_bound_isStored() {
    ledger().allocate(gpus("vm-1", 1), host);

    ledger().updateState("vm-1", LeaseState.BOUND);

    assertEquals(LeaseState.BOUND, LeaseLedger.open(dir).lease("vm-1").orElseThrow().state());
  }

  @Test
  void updateState_noLease_fails() {
    assertThrows(LedgerException.class, () -> ledger().updateState("vm-1", LeaseState.BOUND));
  }

  @Test
  void open_missingDirectory_createsIt() {
    Path state = dir.resolve("a/b");

    LeaseLedger.open(state).allocate(gpus("vm-1", 1), host);

    assertTrue(Files.isRegularFile(state.resolve("leases.json")));
  }

  @Test
  void write_leavesNoTemporaryFile() {
    ledger().allocate(gpus("vm-1", 1), host);

    assertFalse(Files.exists(dir.resolve("leases.json.tmp")));
  }

  @Test
  void file_isVersionedJson() throws Exception {
    ledger().allocate(gpus("vm-1", 1), host);

    String text = Files.readString(ledger().file());

    assertTrue(text.contains("\"format\" : \"gpuvirt-lease-ledger\"")
        && text.contains("\"version\" : 2"), text);
  }

  @Test
  void open_corruptFile_failsAndLeavesItAlone() throws Exception {
    Files.writeString(dir.resolve("leases.json"), "{\"format\":\"gpuvirt-lease-ledger\",\"vers");

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> ledger());

    assertTrue(e.getMessage().contains("is corrupt") && Files.readString(dir.resolve(
        "leases.json")).endsWith("\"vers"), e.getMessage());
  }

  @Test
  void open_emptyFile_isCorruptNotEmpty() throws Exception {
    Files.write(dir.resolve("leases.json"), new byte[0]);

    assertThrows(LedgerFormatException.class, () -> ledger());
  }

  @Test
  void open_newerVersion_failsNamingBothVersions() throws Exception {
    Files.writeString(dir.resolve("leases.json"),
        "{\"format\":\"gpuvirt-lease-ledger\",\"version\":3,\"leases\":[],\"holds\":[]}");

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> ledger());

    assertTrue(e.getMessage().contains("format version 3, written by a newer gpuvirt; this one "
        + "reads version 2"), e.getMessage());
  }

  @Test
  void open_unknownField_isCorrupt() throws Exception {
    ledger().allocate(gpus("vm-1", 1), host);
    String text = Files.readString(ledger().file()).replace("\"owner\" :", "\"colour\" : 1, \"owner\" :");
    Files.writeString(ledger().file(), text);

    assertThrows(LedgerFormatException.class, () -> ledger().leases());
  }

  @Test
  void open_groupInTwoLeases_isCorrupt() throws Exception {
    ledger().allocate(gpus("vm-1", 1), host);
    String text = Files.readString(ledger().file());
    int start = text.indexOf("\"leases\" : [") + "\"leases\" : [".length();
    int end = text.lastIndexOf(']');
    String lease = text.substring(start, end).trim();
    Files.writeString(ledger().file(), text.substring(0, start) + lease + ","
        + lease.replace("\"vm-1\"", "\"vm-2\"") + "]}");

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> ledger().leases());

    assertTrue(e.getMessage().contains("is leased to both vm-1 and vm-2"), e.getMessage());
  }

  @Test
  void open_badAddressInFile_isCorrupt() throws Exception {
    ledger().allocate(gpus("vm-1", 1), host);
    Files.writeString(ledger().file(), Files.readString(ledger().file())
        .replace("0000:17:00.0", "0000:17:00.0/../../x"));

    assertThrows(LedgerFormatException.class, () -> ledger().leases());
  }

  @Test
  void leases_corruptFile_isNeverOverwrittenByALaterAllocate() throws Exception {
    Files.writeString(dir.resolve("leases.json"), "garbage");

    assertThrows(LedgerFormatException.class,
        () -> LeaseLedger.open(dir.resolve(".")).allocate(gpus("vm-1", 1), host));

    assertEquals("garbage", Files.readString(dir.resolve("leases.json"),
        StandardCharsets.UTF_8));
  }

  @Test
  void allocate_manyThreads_neverLeaseAGroupTwice() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<Optional<Lease>>> results = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      String owner = "vm-" + i;
      results.add(pool.submit(() -> {
        try {
          return Optional.of(LeaseLedger.open(dir).allocate(gpus(owner, 1), host));
        } catch (AllocationRefusedException e) {
          return Optional.empty();
        }
      }));
    }
    List<Integer> groups = new ArrayList<>();
    for (Future<Optional<Lease>> f : results) {
      f.get().ifPresent(l -> groups.addAll(l.groupNumbers()));
    }
    pool.shutdown();

    assertEquals(List.of(8, 8), List.of(groups.size(), (int) groups.stream().distinct().count()));
  }
}
