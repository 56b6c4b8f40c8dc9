package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.Lease;
import java.nio.file.Path;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Where one host's leases are kept: the port behind {@link LeaseLedger}. The ledger's rules
 * (allocation, idempotence by owner, reconcile) run on top; a store only loads and commits the
 * leases of its host, one transaction at a time.
 *
 * <p>Two implementations: {@link #jsonFile(Path)}, the durable JSON file in a state directory (the
 * default, for one host), and {@code io.gpuvirt.core.fleet.JdbcLeaseStore}, rows in a database the
 * platform already runs (for a fleet). Both pass one contract: a transaction sees the leases the
 * last committed transaction left, and runs alone among every thread and process using the same
 * host's store; what it changes is committed, whole, before {@link #transact} returns; a
 * transaction that throws commits nothing; a transaction that changes nothing writes nothing.
 *
 * <pre>{@code
 * LeaseLedger ledger = LeaseLedger.open(LeaseStore.jsonFile(Path.of("/var/lib/gpuvirt")),
 *     Clock.systemUTC());
 * }</pre>
 */
public interface LeaseStore {

  /**
   * The JSON file store in {@code stateDirectory} ({@code leases.json}, locked through
   * {@code leases.lock}): the file format and behaviour {@link LeaseLedger} has always had.
   * Creates nothing until the first change.
   */
  static LeaseStore jsonFile(Path stateDirectory) {
    return new LedgerStore(stateDirectory.toAbsolutePath().normalize());
  }

  /**
   * The leases committed last, by owner, read without the lock (a consistent snapshot, possibly
   * older than a transaction running now).
   *
   * @throws LedgerFormatException when the stored leases cannot be read as leases
   * @throws LedgerException when the store cannot be reached
   */
  SortedMap<String, Lease> read();

  /**
   * Runs {@code change} holding this host's lock, on the leases read under it (a mutable map by
   * owner), and commits the map as it is when {@code change} returns, if it differs from what was
   * read. A {@code change} that throws commits nothing and the exception reaches the caller.
   *
   * @throws LedgerException when the lock cannot be taken or the commit fails (then nothing of
   *     this transaction is stored)
   */
  <T> T transact(Function<TreeMap<String, Lease>, T> change);

  /**
   * Runs {@code work} holding this host's operation lock, which orders whole multi-step
   * operations (provisioning, teardown, recovery) across threads and processes. Independent of
   * the lock {@link #transact} takes, so {@code work} may call {@code transact}. Not reentrant.
   */
  <T> T underOperationLock(Supplier<T> work);

  /** Where the leases are, for messages: a file path, or a database table and host name. */
  String location();
}
