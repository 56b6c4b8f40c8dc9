package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Allocator;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.pci.Topology;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The durable record of which owner holds which IOMMU groups on this host (invariant 5: two
 * processes never lease the same group). No database: a JSON file in a state directory
 * ({@value #DEFAULT_STATE_DIRECTORY_NAME} by default).
 *
 * <pre>{@code
 * LeaseLedger ledger = LeaseLedger.open(Path.of("/var/lib/gpuvirt"));
 * Lease lease = ledger.allocate(
 *     AllocationRequest.builder("vm-42").count(4).selector(DeviceSelector.parse("10de:2901")).build(),
 *     TopologyScanner.scan(Sysfs.host()));
 * // ... later
 * ledger.release("vm-42");
 * }</pre>
 *
 * <p>Every operation takes the directory's lock (an in-process lock, then an OS file lock on
 * {@code leases.lock}), reads {@code leases.json} afresh, and, when it changes something, replaces
 * the file atomically (temporary file, fsync, rename, fsync of the directory) before it returns.
 * So threads and processes sharing a state directory see one order of operations, and a crash
 * leaves either the old ledger or the new one. An instance holds no state besides its directory
 * and clock; any number of instances and processes may use one directory.
 *
 * <p>A ledger file that is corrupt or written by a newer format version is refused with a
 * {@link LedgerFormatException}, never reset. The format is versioned (version 1 now) so that leases
 * can grow (more {@link LeaseState}s, more fields) with a migration on read.
 */
public final class LeaseLedger {
  /** {@value}. */
  public static final String DEFAULT_STATE_DIRECTORY_NAME = "/var/lib/gpuvirt";
  /** The default state directory, {@value #DEFAULT_STATE_DIRECTORY_NAME}. */
  public static final Path DEFAULT_STATE_DIRECTORY = Path.of(DEFAULT_STATE_DIRECTORY_NAME);

  private final Path directory;
  private final LedgerStore store;
  private final Clock clock;

  private LeaseLedger(Path directory, Clock clock) {
    this.directory = directory;
    this.store = new LedgerStore(directory);
    this.clock = clock;
  }

  /** Opens the ledger in {@code stateDirectory} with the system clock; see {@link #open(Path, Clock)}. */
  public static LeaseLedger open(Path stateDirectory) {
    return open(stateDirectory, Clock.systemUTC());
  }

  /**
   * Opens the ledger in {@code stateDirectory}, creating the directory if it is missing, and checks
   * that the ledger file, if there is one, can be read.
   *
   * @param clock stamps new leases
   * @throws LedgerFormatException when the ledger file is corrupt or newer
   * @throws LedgerException when the directory cannot be created or locked
   */
  public static LeaseLedger open(Path stateDirectory, Clock clock) {
    Objects.requireNonNull(clock, "clock");
    Path dir = stateDirectory.toAbsolutePath().normalize();
    try {
      Files.createDirectories(dir);
      dir = dir.toRealPath();
    } catch (IOException e) {
      throw new LedgerException(dir, "cannot create the gpuvirt state directory " + dir + " (" + e
          + "); create it or choose another with --state", e);
    }
    LeaseLedger ledger = new LeaseLedger(dir, clock);
    ledger.leases();
    return ledger;
  }

  /** The state directory. */
  public Path stateDirectory() {
    return directory;
  }

  /** The ledger file, {@code leases.json} in the state directory. */
  public Path file() {
    return store.file();
  }

  /**
   * Allocates whole IOMMU groups for {@code request.owner()} and records the lease, or returns the
   * owner's lease when it already holds one for an equal request (idempotent by owner).
   *
   * @throws AllocationRefusedException when the host cannot grant it, or the owner holds a lease
   *     made for a different request
   */
  public Lease allocate(AllocationRequest request, Topology topology) {
    return transact(leases -> allocate(leases, request,
        others -> Allocator.allocate(request, topology, others, clock.instant())));
  }

  /**
   * Allocates exactly the GPUs of one free Fabric Manager partition of {@code request.count()}
   * GPUs (see {@link Allocator}) and records the lease with its partition id; idempotent by owner.
   * The partition is chosen, not activated: activation is a later step.
   *
   * @throws AllocationRefusedException when no partition fits, naming each one and why
   */
  public Lease allocate(AllocationRequest request, Topology topology, PartitionContext partitions) {
    return transact(leases -> allocate(leases, request,
        others -> Allocator.allocate(request, topology, others, partitions, clock.instant())));
  }

  private static Lease allocate(TreeMap<String, Lease> leases, AllocationRequest request,
      Function<List<Lease>, Lease> allocator) {
    Lease existing = leases.get(request.owner());
    if (existing != null) {
      if (existing.request().equals(request)) {
        return existing;
      }
      throw new AllocationRefusedException(request.owner(), request.owner()
          + " already holds a lease (" + existing.request().count() + " x "
          + existing.request().selector() + ", IOMMU groups " + existing.groupNumbers()
          + ") made for a different request; release it first");
    }
    Lease lease = allocator.apply(List.copyOf(leases.values()));
    leases.put(lease.owner(), lease);
    return lease;
  }

  /**
   * Releases the owner's lease. Idempotent: releasing an owner without a lease changes nothing.
   *
   * @return the lease released, empty when the owner held none
   */
  public Optional<Lease> release(String owner) {
    AllocationRequest.checkOwner(owner);
    return transact(leases -> Optional.ofNullable(leases.remove(owner)));
  }

  /**
   * Moves the owner's lease to {@code state} (the provisioning flow marks it {@code BOUND} once its
   * devices are on VFIO).
   *
   * @throws LedgerException when the owner holds no lease
   */
  public Lease updateState(String owner, LeaseState state) {
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(state, "state");
    return transact(leases -> {
      Lease lease = leases.get(owner);
      if (lease == null) {
        throw new LedgerException(store.file(), owner + " holds no lease in " + store.file()
            + "; allocate first");
      }
      Lease updated = lease.withState(state);
      leases.put(owner, updated);
      return updated;
    });
  }

  /** Every lease, sorted by owner. */
  public List<Lease> leases() {
    return transact(leases -> List.copyOf(leases.values()));
  }

  /** The owner's lease, if it holds one. */
  public Optional<Lease> lease(String owner) {
    AllocationRequest.checkOwner(owner);
    return transact(leases -> Optional.ofNullable(leases.get(owner)));
  }

  /**
   * Compares the leases with the host's driver bindings and repairs what {@code policy} allows:
   * GPUs on a VFIO driver without a lease, leases whose devices are gone or changed, {@code BOUND}
   * leases whose devices are not on a VFIO driver.
   *
   * <p>With a repairing policy, call it inside {@link #underOperationLock} with a topology scanned
   * inside that lock: a provisioning that commits between an earlier scan and the repair would
   * otherwise look stale and lose its lease.
   */
  public ReconcileReport reconcile(Topology topology, ReconcilePolicy policy) {
    return transact(leases -> new Reconciler(topology, Optional.empty(), policy).run(leases));
  }

  /**
   * As {@link #reconcile(Topology, ReconcilePolicy)}, and also compares the leases with the active
   * Fabric Manager partitions: a partition active without a lease, a {@code BOUND} lease whose
   * partition is not active.
   */
  public ReconcileReport reconcile(Topology topology, FabricManager fabricManager,
      ReconcilePolicy policy) {
    return transact(leases -> new Reconciler(topology, Optional.of(fabricManager), policy)
        .run(leases));
  }

  /**
   * Runs {@code work} while holding this state directory's operation lock ({@code operations.lock}):
   * whole multi-step operations on the host (provisioning, teardown, recovery) run one at a time
   * across threads and processes. Ledger calls made inside take the ledger's own lock as usual.
   * Not reentrant: do not call it from inside {@code work}.
   */
  public <T> T underOperationLock(java.util.function.Supplier<T> work) {
    try (LedgerLock lock = LedgerLock.acquire(directory.resolve("operations.lock"))) {
      return work.get();
    }
  }

  /** Runs {@code change} on the leases under the lock, and writes them back if it changed them. */
  private <T> T transact(Function<TreeMap<String, Lease>, T> change) {
    try (LedgerLock lock = LedgerLock.acquire(store.lockFile())) {
      TreeMap<String, Lease> leases = store.read();
      TreeMap<String, Lease> before = new TreeMap<>(leases);
      T result = change.apply(leases);
      if (!leases.equals(before)) {
        store.write(leases.values());
      }
      return result;
    }
  }
}
