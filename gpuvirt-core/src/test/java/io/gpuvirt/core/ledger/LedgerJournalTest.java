package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.TestHosts;
import io.gpuvirt.core.pci.Topology;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JSON store's journal: a commit is one appended, checksummed record; the snapshot takes the
 * journal every 64 records or on {@link LeaseLedger#compact}; an append a crash cut short reads as
 * never made, at every byte it could have been cut; a journal damaged before its last record, one
 * newer than its snapshot, and a snapshot edited under a journal are refused, never guessed at.
 */
final class LedgerJournalTest {
  private final Topology host = TestHosts.hgxB200();

  @TempDir Path dir;

  private LeaseLedger ledger() {
    return LeaseLedger.open(dir);
  }

  private Path journal() {
    return dir.resolve("leases.journal");
  }

  private Path snapshot() {
    return dir.resolve("leases.json");
  }

  private Lease allocate(String owner) {
    return ledger().allocate(AllocationRequest.builder(owner).count(1).build(), host);
  }

  private List<String> owners(LeaseLedger l) {
    return l.leases().stream().map(Lease::owner).toList();
  }

  private List<String> journalLines() throws IOException {
    return Files.readAllLines(journal(), StandardCharsets.UTF_8);
  }

  @Test
  void firstCommit_writesTheSnapshot_laterCommitsAppendOneLineEach() throws IOException {
    allocate("vm-1");
    boolean journalAfterFirst = Files.exists(journal());
    byte[] first = Files.readAllBytes(snapshot());
    allocate("vm-2");
    ledger().updateState("vm-2", LeaseState.BOUND);
    ledger().release("vm-1");

    assertEquals(List.of(false, 4, List.of("vm-2")), List.of(journalAfterFirst,
        journalLines().size(), owners(ledger())));
    assertArrayEquals(first, Files.readAllBytes(snapshot()), "the snapshot is left alone");
    assertTrue(journalLines().get(0).startsWith("{\"format\":\"gpuvirt-lease-journal\","
        + "\"version\":1,\"generation\":1,\"snapshot\":\""), journalLines().get(0));
  }

  @Test
  void after64Records_aCommitWritesTheNextSnapshotAndRemovesTheJournal() throws IOException {
    allocate("vm-keep");
    for (int i = 0; i < 32; i++) {
      allocate("vm-churn");
      ledger().release("vm-churn");
    }
    int before = journalLines().size() - 1;
    allocate("vm-last");

    assertEquals(List.of(64, false, 2L, List.of("vm-keep", "vm-last")), List.of(before,
        Files.exists(journal()), LedgerCodec.generation(Files.readAllBytes(snapshot())),
        owners(ledger())));
  }

  @Test
  void compact_foldsTheJournalSoLeasesJsonAloneHoldsEveryLease() throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    ledger().updateState("vm-2", LeaseState.BOUND);

    int folded = ledger().compact();

    assertEquals(List.of(2, false, 0), List.of(folded, Files.exists(journal()),
        ledger().compact()));
    assertEquals(ledger().leases(), List.copyOf(LedgerCodec.decode(snapshot(),
        Files.readAllBytes(snapshot())).values()));
  }

  @Test
  void anAppendCutShortAtAnyByte_readsAsNeverMade_andTheNextCommitCutsItOff()
      throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    allocate("vm-3");
    byte[] full = Files.readAllBytes(journal());
    int lastStart = new String(full, StandardCharsets.UTF_8).lastIndexOf('\n', full.length - 2)
        + 1;
    for (int cut = lastStart; cut < full.length; cut++) {
      Files.write(journal(), Arrays.copyOf(full, cut));

      assertEquals(List.of("vm-1", "vm-2"), owners(ledger()), "cut at byte " + cut);
    }
    allocate("vm-4");
    assertEquals(List.of(List.of("vm-1", "vm-2", "vm-4"), 3), List.of(owners(ledger()),
        journalLines().size()));
  }

  @Test
  void garbageAfterTheLastRecord_seededRandom_readsAsNeverWritten() throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    byte[] full = Files.readAllBytes(journal());
    SplittableRandom rnd = new SplittableRandom(18);
    for (int i = 0; i < 50; i++) {
      byte[] junk = new byte[1 + rnd.nextInt(300)];
      for (int k = 0; k < junk.length; k++) {
        junk[k] = (byte) rnd.nextInt(256);
      }
      byte[] damaged = Arrays.copyOf(full, full.length + junk.length);
      System.arraycopy(junk, 0, damaged, full.length, junk.length);
      // Junk with a newline inside and text after it is a damaged record with one following:
      // that is refused (tested below); here the junk is one unterminated or final line.
      int newline = -1;
      for (int k = 0; k < junk.length; k++) {
        if (junk[k] == '\n') {
          newline = k;
          break;
        }
      }
      if (newline >= 0 && newline < junk.length - 1) {
        continue;
      }
      Files.write(journal(), damaged);
      assertEquals(List.of("vm-1", "vm-2"), owners(ledger()), "junk round " + i);
    }
  }

  @Test
  void aRecordDamagedBeforeTheLast_isRefusedNamingTheLine() throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    allocate("vm-3");
    allocate("vm-4");
    List<String> lines = journalLines();
    lines.set(1, lines.get(1).replace("vm-2", "vm-9"));
    Files.write(journal(), (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> ledger().leases());

    assertTrue(e.getMessage().contains("line 2 fails its checksum"), e.getMessage());
    assertThrows(LedgerFormatException.class, () -> allocate("vm-5"));
  }

  @Test
  void aMissingRecord_isAGapInTheSequenceAndRefused() throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    allocate("vm-3");
    allocate("vm-4");
    List<String> lines = new java.util.ArrayList<>(journalLines());
    lines.remove(2);
    Files.write(journal(), (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> ledger().leases());

    assertTrue(e.getMessage().contains("sequence number 3 where 2 was due"), e.getMessage());
  }

  @Test
  void leasesJsonEditedUnderAJournal_isRefused_compactThenEditWorks() throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    String text = Files.readString(snapshot());
    Files.writeString(snapshot(), text.replace("\"vm-1\"", "\"vm-x\""));

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> ledger().leases());
    Files.writeString(snapshot(), text);
    ledger().compact();
    Files.writeString(snapshot(), Files.readString(snapshot()).replace("\"vm-1\"", "\"vm-x\""));

    assertTrue(e.getMessage().contains("edited or replaced since") && e.getMessage()
        .contains("compact"), e.getMessage());
    assertEquals(List.of("vm-2", "vm-x"), owners(ledger()));
  }

  @Test
  void aJournalLeftByACompactionCutShort_isIgnoredAndReplacedByTheNextCommit()
      throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    byte[] old = Files.readAllBytes(journal());
    ledger().compact();
    Files.write(journal(), old); // the crash came after the snapshot, before the removal

    List<String> read = owners(ledger());
    allocate("vm-3");

    assertEquals(List.of(List.of("vm-1", "vm-2"), List.of("vm-1", "vm-2", "vm-3"), 2),
        List.of(read, owners(ledger()), journalLines().size()));
    assertTrue(journalLines().get(0).contains("\"generation\":2"), journalLines().get(0));
  }

  @Test
  void aSnapshotOlderThanItsJournal_isRefused() throws IOException {
    allocate("vm-1");
    byte[] generation1 = Files.readAllBytes(snapshot());
    allocate("vm-2");
    ledger().compact();
    allocate("vm-3"); // journal of generation 2
    Files.write(snapshot(), generation1);

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> ledger().leases());

    assertTrue(e.getMessage().contains("older than the journal's 2"), e.getMessage());
  }

  @Test
  void aSnapshotRemovedUnderAJournal_isRefusedNotReadAsEmpty() throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    Files.delete(snapshot());

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> ledger().leases());

    assertTrue(e.getMessage().contains("is missing"), e.getMessage());
  }

  @Test
  void aHeaderThatIsNotOurs_orOfANewerVersion_isRefused() throws IOException {
    allocate("vm-1");
    allocate("vm-2");
    List<String> lines = journalLines();
    for (String header : List.of("garbage", lines.get(0).replace("\"version\":1",
        "\"version\":2"))) {
      Files.writeString(journal(), header + "\n" + lines.get(1) + "\n");

      LedgerFormatException e = assertThrows(LedgerFormatException.class,
          () -> ledger().leases());

      assertTrue(e.getMessage().contains(journal().toString()), e.getMessage());
    }
  }

  @Test
  void oneLedgerInstance_seesAnotherInstancesCommits_andAnEditOfTheSameLength() throws IOException {
    LeaseLedger mine = ledger();
    mine.allocate(AllocationRequest.builder("vm-1").count(1).build(), host);
    mine.allocate(AllocationRequest.builder("vm-2").count(1).build(), host);
    ledger().allocate(AllocationRequest.builder("vm-3").count(1).build(), host); // another one
    List<String> afterOther = owners(mine);
    // The same bytes' length, other content: what this instance decoded before must not be reused.
    List<String> lines = journalLines();
    lines.set(1, lines.get(1).replace("vm-2", "vm-8"));
    Files.write(journal(), (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));

    LedgerFormatException e = assertThrows(LedgerFormatException.class, () -> mine.leases());

    assertEquals(List.of("vm-1", "vm-2", "vm-3"), afterOther);
    assertTrue(e.getMessage().contains("line 2 fails its checksum"), e.getMessage());
  }

  @Test
  void aReadDuringCommitsFromAnotherThread_alwaysSeesACommittedState() throws Exception {
    allocate("vm-base");
    Thread writer = new Thread(() -> {
      for (int i = 0; i < 100; i++) {
        allocate("vm-churn");
        ledger().release("vm-churn");
      }
    });
    writer.start();
    int reads = 0;
    while (writer.isAlive()) {
      List<String> seen = owners(ledger());
      assertTrue(seen.equals(List.of("vm-base")) || seen.equals(List.of("vm-base", "vm-churn")),
          seen.toString());
      reads++;
    }
    writer.join();
    assertTrue(reads > 0);
  }
}
