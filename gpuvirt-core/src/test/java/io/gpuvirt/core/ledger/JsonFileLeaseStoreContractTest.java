package io.gpuvirt.core.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on the default store, the JSON file in a state directory. */
final class JsonFileLeaseStoreContractTest extends LeaseStoreContract {
  @TempDir
  Path dir;

  @Override
  LeaseStore store() {
    return LeaseStore.jsonFile(dir.resolve("state"));
  }

  @Test
  void transact_changingNothing_createsNothing() {
    store().transact(leases -> leases.size());

    assertFalse(Files.exists(dir.resolve("state").resolve(LedgerStore.LEDGER)));
  }

  @Test
  void jsonFile_isTheLedgersDefaultStore() {
    LeaseLedger ledger = LeaseLedger.open(dir.resolve("state"));

    assertEquals(dir.resolve("state").resolve("leases.json").toString(),
        ledger.store().location());
  }
}
