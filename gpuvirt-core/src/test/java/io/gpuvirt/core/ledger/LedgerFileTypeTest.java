package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A leases.json that is not a regular file is refused by name, never read as an empty ledger. */
final class LedgerFileTypeTest {
  @TempDir Path dir;

  private LedgerFormatException refused() {
    return assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(LedgerFormatException.class, () -> LeaseLedger.open(dir)));
  }

  @Test
  void open_danglingLedgerLink_isRefusedNotAnEmptyLedger() throws Exception {
    Files.createSymbolicLink(dir.resolve("leases.json"), Path.of("/nonexistent/leases.json"));
    LedgerFormatException e = refused();
    assertTrue(e.getMessage().contains("leases.json") && e.getMessage().contains("dangling"),
        e.getMessage());
  }

  @Test
  void open_ledgerLinkedToDevZero_isRefusedInsteadOfRunningOutOfMemory() throws Exception {
    Files.createSymbolicLink(dir.resolve("leases.json"), Path.of("/dev/zero"));
    assertTrue(refused().getMessage().contains("character device"));
  }

  @Test
  void open_ledgerFifo_isRefusedInsteadOfHanging() throws Exception {
    Process p = new ProcessBuilder("mkfifo", dir.resolve("leases.json").toString()).start();
    Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo is not available");
    assertTrue(refused().getMessage().contains("FIFO"));
  }

  @Test
  void open_ledgerDirectory_isRefused() throws Exception {
    Files.createDirectory(dir.resolve("leases.json"));
    assertTrue(refused().getMessage().contains("a directory"));
  }
}
