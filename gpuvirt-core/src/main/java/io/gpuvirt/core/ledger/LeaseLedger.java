package io.gpuvirt.core.ledger;

import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.pci.PciAddress;
import java.util.function.UnaryOperator;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.pci.Topology;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The durable record of which owner holds which IOMMU groups on this host (invariant 5: two
 * processes never lease the same group), kept by a {@link LeaseStore}: by default a JSON file in a
 * state directory ({@value #DEFAULT_STATE_DIRECTORY_NAME} by default), for a fleet a database table
 * ({@code io.gpuvirt.core.fleet.JdbcLeaseStore}, through {@link #open(LeaseStore, Clock)}).
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
 * <p>Every operation that changes the ledger takes the directory's lock (an in-process lock, then an
 * OS file lock on {@code leases.lock}), reads {@code leases.json} afresh, and, when it changes
 * something, replaces the file atomically (temporary file, fsync, rename, fsync of the directory)
 * before it returns. So threads and processes sharing a state directory see one order of
 * operations, and a crash leaves either the old ledger or the new one. Reads take no lock (the
 * rename is atomic) and never create anything: a state directory that does not exist is an empty
 * ledger until the first change creates it. An instance holds no state besides its directory and
 * clock; any number of instances and processes may use one directory.
 *
 * <p>A ledger file that is corrupt or written by a newer format version is refused with a
 * {@link LedgerFormatException}, never reset. The format is versioned (version 2 now). State of
 * gpuvirt 0.1 is upgraded in place: a version 1 {@code leases.json} is read as version 2 and
 * rewritten on the next change (its old bytes kept as {@code leases.json.v1.bak}); the bindings
 * {@code gpuvirt bind} kept in {@code bindings.json} become leases of origin
 * {@link LeaseOrigin#BIND} (see {@link #bindOwner}) on the first operation that is given the host's
 * topology, and the file is kept as {@code bindings.json.v1.bak}.
 */
public final class LeaseLedger {
  /** {@value}. */
  public static final String DEFAULT_STATE_DIRECTORY_NAME = "/var/lib/gpuvirt";
  /** The default state directory, {@value #DEFAULT_STATE_DIRECTORY_NAME}. */
  public static final Path DEFAULT_STATE_DIRECTORY = Path.of(DEFAULT_STATE_DIRECTORY_NAME);
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LeaseLedger.class);

  private final LeaseStore store;
  private final Clock clock;

  private LeaseLedger(LeaseStore store, Clock clock) {
    this.store = store;
    this.clock = clock;
  }

  /** The prefix of the default owner of a manual binding, {@value}: see {@link #bindOwner}. */
  public static final String BIND_OWNER_PREFIX = "bind-";

  /**
   * The default owner of a manual binding ({@code gpuvirt bind} without {@code --owner}) whose first
   * device is {@code device}: {@code bind-0000:17:00.0}. A state directory of gpuvirt 0.1 converts
   * each bound IOMMU group to a lease of this owner for the group's first device.
   */
  public static String bindOwner(PciAddress device) {
    return BIND_OWNER_PREFIX + device;
  }

  /** Opens the ledger in {@code stateDirectory} with the system clock; see {@link #open(Path, Clock)}. */
  public static LeaseLedger open(Path stateDirectory) {
    return open(stateDirectory, Clock.systemUTC());
  }

  /**
   * Opens the ledger in {@code stateDirectory} and checks that the ledger file, if there is one,
   * can be read. Creates nothing: the directory is created by the first change.
   *
   * @param clock stamps new leases
   * @throws LedgerFormatException when the ledger file is corrupt or newer
   * @throws LedgerException when the path exists but is not a directory
   */
  public static LeaseLedger open(Path stateDirectory, Clock clock) {
    Objects.requireNonNull(clock, "clock");
    Path dir = stateDirectory.toAbsolutePath().normalize();
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new LedgerException(dir, "the gpuvirt state directory " + dir + " is not a directory;"
          + " choose another with --state");
    }
    try {
      if (Files.isDirectory(dir)) {
        dir = dir.toRealPath();
      }
    } catch (IOException e) {
      throw new LedgerException(dir, "cannot resolve the gpuvirt state directory " + dir + " ("
          + e + ")", e);
    }
    return open(new LedgerStore(dir), clock);
  }

  /**
   * Opens a ledger whose leases {@code store} keeps (a {@link LeaseStore#jsonFile JSON file}, or a
   * database table for a fleet), and checks that they can be read.
   *
   * @param clock stamps new leases
   * @throws LedgerFormatException when the stored leases are corrupt or newer
   */
  public static LeaseLedger open(LeaseStore store, Clock clock) {
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(clock, "clock");
    LeaseLedger ledger = new LeaseLedger(store, clock);
    ledger.leases();
    return ledger;
  }

  /** The store that keeps this ledger's leases. */
  public LeaseStore store() {
    return store;
  }

  /**
   * The state directory.
   *
   * @throws LedgerException when the leases are not kept in a JSON file ({@link #store()})
   */
  public Path stateDirectory() {
    return fileStore("state directory").directory();
  }

  /**
   * The ledger file, {@code leases.json} in the state directory: the snapshot; the commits made
   * since are in {@code leases.journal} beside it until the next {@link #compact}.
   *
   * @throws LedgerException when the leases are not kept in a JSON file ({@link #store()})
   */
  public Path file() {
    return fileStore("ledger file").file();
  }

  /**
   * Folds the journal of the JSON file store into {@code leases.json}, so that the file alone
   * holds every lease: what to do before reading or editing it by hand (an edit under a journal is
   * refused on the next read, never silently overlaid). The store compacts by itself every 64
   * commits; a store of another kind has nothing to fold.
   *
   * @return how many journal records were folded
   */
  public int compact() {
    return store instanceof LedgerStore file ? file.compact() : 0;
  }

  /**
   * Allocates whole IOMMU groups for {@code request.owner()} and records the lease, or returns the
   * owner's lease when it already holds one for an equal request (idempotent by owner).
   *
   * @throws AllocationRefusedException when the host cannot grant it, or the owner holds a lease
   *     made for a different request
   */
  public Lease allocate(AllocationRequest request, Topology topology) {
    return allocate(request, topology, AllocationOptions.defaults());
  }

  /**
   * Allocates exactly the GPUs of one free Fabric Manager partition of {@code request.count()}
   * GPUs (chosen as the {@code io.gpuvirt.core.alloc} package describes) and records the lease with its partition id; idempotent by owner.
   * The partition is chosen, not activated: activation is a later step.
   *
   * @throws AllocationRefusedException when no partition fits, naming each one and why
   */
  public Lease allocate(AllocationRequest request, Topology topology, PartitionContext partitions) {
    return allocate(request, topology, AllocationOptions.defaults().withPartitions(partitions));
  }

  /**
   * Allocates for {@code request.owner()} as {@code options} say and records the lease, or returns
   * the owner's lease when it already holds one of the same origin for an equal request
   * (idempotent by owner). Reservations whose deadline passed are reclaimed first.
   *
   * @throws AllocationRefusedException when the host cannot grant it, or the owner holds a lease
   *     made for a different request or by another operation
   */
  public Lease allocate(AllocationRequest request, Topology topology, AllocationOptions options) {
    Objects.requireNonNull(options, "options");
    return transact(Optional.of(topology), leases -> {
      reclaimExpired(leases);
      Instant now = clock.instant();
      return allocate(leases, request, options.origin(), others -> {
        Lease lease = options.partitions().isPresent()
            ? Allocator.allocate(request, topology, others, options.partitions().get(), now)
            : Allocator.allocate(request, topology, others, options.driverPolicy(), now);
        Lease made = lease.withOrigin(options.origin());
        Lease chosen = options.lifetime().map(l -> made.withExpiresAt(now.plus(l))).orElse(made);
        Lease recorded = options.recordAs().apply(chosen);
        if (!recorded.owner().equals(chosen.owner()) || !recorded.groups().stream()
            .map(g -> g.number()).toList().equals(chosen.groups().stream().map(g -> g.number())
                .toList()) || !recorded.partitionId().equals(chosen.partitionId())
            || !recorded.passedThroughDevices().stream().map(d -> d.address()).toList().equals(
                chosen.passedThroughDevices().stream().map(d -> d.address()).toList())) {
          throw new InvalidValueException("AllocationOptions.recordAs changed what the lease of "
              + chosen.owner() + " holds; it may change only its state and device facts");
        }
        return recorded;
      });
    });
  }

  /**
   * Records a lease of vGPUs for {@code owner} chosen by {@code chooser} under the ledger's lock,
   * or returns the owner's lease when {@code sameRequest} accepts it (idempotent by owner). The
   * chooser gets every other lease (so it leaves their VFs alone) and returns the new lease; a
   * lease that holds a VF another lease holds, as a vGPU or whole, is refused.
   *
   * @throws AllocationRefusedException when the owner holds a lease that {@code sameRequest}
   *     refuses, or the chooser refuses
   */
  public Lease allocateVgpus(String owner, java.util.function.Predicate<Lease> sameRequest,
      Function<List<Lease>, Lease> chooser) {
    return allocateChosen(owner, "vGPU", sameRequest, chooser, LeaseLedger::checkVgpusFree);
  }

  /**
   * Records a lease of MIG GPU instances for {@code owner} chosen by {@code chooser} under the
   * ledger's lock, or returns the owner's lease when {@code sameRequest} accepts it (idempotent by
   * owner). The chooser gets every other lease; a lease that takes an instance another lease
   * holds, or a GPU another lease holds whole or serves vGPUs from, is refused.
   *
   * @throws AllocationRefusedException when the owner holds a lease that {@code sameRequest}
   *     refuses, or the chooser refuses
   */
  public Lease allocateMig(String owner, java.util.function.Predicate<Lease> sameRequest,
      Function<List<Lease>, Lease> chooser) {
    return allocateChosen(owner, "MIG", sameRequest, chooser, LeaseLedger::checkMigsFree);
  }

  /**
   * The one flow of {@link #allocateVgpus} and {@link #allocateMig}: idempotent by owner, the
   * chooser given every other lease, the chosen lease checked against them by {@code checkFree}.
   */
  private Lease allocateChosen(String owner, String kind,
      java.util.function.Predicate<Lease> sameRequest, Function<List<Lease>, Lease> chooser,
      java.util.function.BiConsumer<Lease, TreeMap<String, Lease>> checkFree) {
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(sameRequest, "sameRequest");
    Objects.requireNonNull(chooser, "chooser");
    return transact(Optional.empty(), leases -> {
      reclaimExpired(leases);
      Lease existing = leases.get(owner);
      if (existing != null) {
        if (sameRequest.test(existing)) {
          return existing;
        }
        throw new AllocationRefusedException(owner, owner + " already holds a lease (IOMMU "
            + "groups " + existing.groupNumbers() + ", vGPUs " + existing.vgpus().stream()
            .map(v -> v.sysfsPath() + " " + v.type().name()).toList() + ", MIG instances "
            + existing.migs() + ") made for a different request; tear it down first or choose "
            + "another owner");
      }
      Lease lease = chooser.apply(List.copyOf(leases.values()));
      if (!lease.owner().equals(owner)) {
        throw new InvalidValueException("the " + kind + " lease chosen for " + owner + " names "
            + lease.owner());
      }
      checkFree.accept(lease, leases);
      leases.put(owner, lease);
      return lease;
    });
  }

  private static void checkMigsFree(Lease lease, TreeMap<String, Lease> leases) {
    for (Lease other : leases.values()) {
      if (other.owner().equals(lease.owner())) {
        continue;
      }
      for (io.gpuvirt.core.mig.MigAssignment m : lease.migs()) {
        boolean taken = other.migs().stream().anyMatch(o -> o.key().equals(m.key()))
            || other.device(m.gpu()).isPresent()
            || other.vgpus().stream().anyMatch(v -> v.pf().equals(m.gpu()));
        if (taken) {
          throw new InvalidValueException("the lease of " + lease.owner() + " takes MIG instance "
              + m + ", whose GPU or placement " + other.owner() + " holds");
        }
      }
    }
  }

  private static void checkVgpusFree(Lease lease, TreeMap<String, Lease> leases) {
    for (Lease other : leases.values()) {
      if (other.owner().equals(lease.owner())) {
        continue;
      }
      for (io.gpuvirt.core.vgpu.VgpuAssignment v : lease.vgpus()) {
        boolean taken = other.vgpus().stream().anyMatch(o -> o.sysfsPath().equals(v.sysfsPath()))
            || v.vf().flatMap(other::device).isPresent()
            || other.device(v.pf()).isPresent()
            || other.migs().stream().anyMatch(m -> m.gpu().equals(v.pf()));
        if (taken) {
          throw new InvalidValueException("the lease of " + lease.owner() + " takes vGPU "
              + v.sysfsPath() + " on " + v.pf() + ", which " + other.owner() + " holds");
        }
      }
    }
  }

  /**
   * Releases every reservation whose deadline has passed ({@link Lease#expired}).
   *
   * @return the reservations released, sorted by owner
   */
  public List<Lease> reclaimExpired() {
    return transact(Optional.empty(), this::reclaimExpired);
  }

  private List<Lease> reclaimExpired(TreeMap<String, Lease> leases) {
    Instant now = clock.instant();
    List<Lease> expired = leases.values().stream().filter(l -> l.expired(now)).toList();
    for (Lease l : expired) {
      LOG.warn("reclaiming the reservation of {} (IOMMU groups {}): it expired at {}", l.owner(),
          l.groupNumbers(), l.expiresAt().get());
      leases.remove(l.owner());
    }
    return expired;
  }

  private static Lease allocate(TreeMap<String, Lease> leases, AllocationRequest request,
      LeaseOrigin origin, Function<List<Lease>, Lease> allocator) {
    Lease existing = leases.get(request.owner());
    if (existing != null) {
      if (existing.request().equals(request) && existing.origin() == origin) {
        return existing;
      }
      if (existing.origin() != origin) {
        throw new AllocationRefusedException(request.owner(), request.owner()
            + " already holds a lease made by " + (existing.origin() == LeaseOrigin.BIND
                ? "'gpuvirt bind'" : "provisioning") + " (IOMMU groups "
            + existing.groupNumbers() + "); end it first ("
            + (existing.origin() == LeaseOrigin.BIND ? "gpuvirt bind --restore" : "gpuvirt teardown")
            + ") or choose another owner");
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
    return transact(Optional.empty(), leases -> Optional.ofNullable(leases.remove(owner)));
  }

  /**
   * Moves the owner's lease to {@code state} (the provisioning flow marks it {@code BOUND} once its
   * devices are on VFIO).
   *
   * @throws LedgerException when the owner holds no lease
   */
  public Lease updateState(String owner, LeaseState state) {
    Objects.requireNonNull(state, "state");
    return update(owner, lease -> lease.withState(state));
  }

  /**
   * Replaces the owner's lease with {@code change} applied to it, durably (the provisioning journal
   * records what it is about to do to each device this way before doing it).
   *
   * @throws LedgerException when the owner holds no lease
   * @throws io.gpuvirt.core.InvalidValueException when the change renames the owner or adds a
   *     device another lease holds
   */
  public Lease update(String owner, UnaryOperator<Lease> change) {
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(change, "change");
    return transact(Optional.empty(), leases -> {
      Lease lease = leases.get(owner);
      if (lease == null) {
        throw new LedgerException(store instanceof LedgerStore f ? f.file() : Path.of(""), owner
            + " holds no lease in " + store.location() + "; allocate first");
      }
      Lease updated = change.apply(lease);
      if (!updated.owner().equals(owner)) {
        throw new InvalidValueException("a lease update may not change its owner (" + owner
            + " to " + updated.owner() + ")");
      }
      for (Lease other : leases.values()) {
        if (!other.owner().equals(owner)) {
          for (LeasedDevice d : updated.devices()) {
            if (other.device(d.address()).isPresent()) {
              throw new InvalidValueException("the update of " + owner + " adds " + d.address()
                  + ", which " + other.owner() + " holds");
            }
          }
        }
      }
      checkVgpusFree(updated, leases);
      leases.put(owner, updated);
      return updated;
    });
  }

  /** Every lease, sorted by owner. */
  public List<Lease> leases() {
    return List.copyOf(store.read().values());
  }

  /**
   * Every lease, sorted by owner, with the bindings of an earlier release's {@code bindings.json}
   * shown as the leases the next change converts them to. Changes nothing.
   */
  public List<Lease> leases(Topology topology) {
    TreeMap<String, Lease> leases = new TreeMap<>(store.read());
    if (hasLegacyBindings()) {
      LegacyBindings.convert(((LedgerStore) store).legacyBindings(), topology, leases,
          clock.instant());
    }
    return List.copyOf(leases.values());
  }

  /** The owner's lease, if it holds one. */
  public Optional<Lease> lease(String owner) {
    AllocationRequest.checkOwner(owner);
    return Optional.ofNullable(store.read().get(owner));
  }

  /**
   * The Fabric Manager partitions gpuvirt's leases may have active: those of every lease past its
   * reservation (activating, binding, bound or tearing down), sorted. This is the list a Fabric
   * Manager restarted in resiliency mode must be told.
   */
  public List<Integer> leasedActivePartitionIds() {
    return store.read().values().stream()
        .filter(l -> l.state() != LeaseState.ALLOCATED && l.partitionId().isPresent())
        .map(l -> l.partitionId().getAsInt()).distinct().sorted().toList();
  }

  /**
   * Converts an earlier release's {@code bindings.json} into leases now (see the class comment);
   * a no-op, without reading the host, when there is none.
   *
   * @param topology the host now (asked for only when there is something to convert)
   * @return whether there was something to convert
   */
  public boolean upgrade(java.util.function.Supplier<Topology> topology) {
    if (!hasLegacyBindings()) {
      return false;
    }
    transact(Optional.of(topology.get()), leases -> leases.size());
    return true;
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
    return reconcile(topology, Optional.empty(), Optional.empty(), policy);
  }

  /**
   * As {@link #reconcile(Topology, FabricManager, ReconcilePolicy)}, and also checks the
   * module-id map against the host and the leases' GPUs against their partitions' modules.
   */
  public ReconcileReport reconcile(Topology topology, FabricManager fabricManager,
      ModuleIdMap moduleIds, ReconcilePolicy policy) {
    return reconcile(topology, Optional.of(fabricManager), Optional.of(moduleIds), policy);
  }

  private ReconcileReport reconcile(Topology topology, Optional<FabricManager> fabricManager,
      Optional<ModuleIdMap> moduleIds, ReconcilePolicy policy) {
    if (policy.equals(ReconcilePolicy.REPORT_ONLY)) {
      TreeMap<String, Lease> leases = new TreeMap<>();
      leases(topology).forEach(l -> leases.put(l.owner(), l));
      return new Reconciler(topology, fabricManager, moduleIds, policy).run(leases);
    }
    return transact(Optional.of(topology),
        leases -> new Reconciler(topology, fabricManager, moduleIds, policy).run(leases));
  }

  /**
   * What about {@code owner}'s lease disagrees with the host (and Fabric Manager and the module-id
   * map, when given) now: the same check as {@link #reconcile}, for one lease. Changes nothing.
   * An operation about to act on the lease stops when this is not empty.
   *
   * @return the discrepancies concerning the lease (its devices, groups and partition, and a
   *     Fabric Manager listing that contradicts itself), empty when it agrees or there is no lease
   */
  public List<Discrepancy> disagreements(String owner, Topology topology,
      Optional<FabricManager> fabricManager, Optional<ModuleIdMap> moduleIds) {
    TreeMap<String, Lease> leases = new TreeMap<>();
    leases(topology).forEach(l -> leases.put(l.owner(), l));
    Lease lease = leases.get(owner);
    if (lease == null) {
      return List.of();
    }
    ReconcileReport report = new Reconciler(topology,
        lease.partitionId().isPresent() ? fabricManager : Optional.empty(),
        lease.partitionId().isPresent() ? moduleIds : Optional.empty(),
        ReconcilePolicy.REPORT_ONLY).run(leases);
    return report.discrepancies().stream()
        .filter(d -> d.owner().equals(Optional.of(owner))
            || d.kind() == Discrepancy.Kind.FABRIC_LISTING_INCONSISTENT
            || d.kind() == Discrepancy.Kind.MODULE_ID_MAP_INVALID)
        .toList();
  }

  /**
   * As {@link #reconcile(Topology, ReconcilePolicy)}, and also compares the leases with the active
   * Fabric Manager partitions: a partition active without a lease, a {@code BOUND} lease whose
   * partition is not active.
   */
  public ReconcileReport reconcile(Topology topology, FabricManager fabricManager,
      ReconcilePolicy policy) {
    return reconcile(topology, Optional.of(fabricManager), Optional.empty(), policy);
  }

  /**
   * Runs {@code work} while holding this state directory's operation lock ({@code operations.lock}):
   * whole multi-step operations on the host (provisioning, teardown, recovery) run one at a time
   * across threads and processes. Ledger calls made inside take the ledger's own lock as usual.
   * Not reentrant: do not call it from inside {@code work}.
   */
  public <T> T underOperationLock(java.util.function.Supplier<T> work) {
    return store.underOperationLock(work);
  }

  /**
   * Runs {@code change} on the leases in one transaction of the store. Given the host's topology, a
   * JSON file store first converts an earlier release's bindings into leases.
   */
  private <T> T transact(Optional<Topology> topology, Function<TreeMap<String, Lease>, T> change) {
    if (store instanceof LedgerStore file) {
      return file.transact(topology, clock.instant(), change);
    }
    return store.transact(change);
  }

  private LedgerStore fileStore(String what) {
    if (store instanceof LedgerStore file) {
      return file;
    }
    throw new LedgerException(Path.of(""), "this ledger keeps its leases in " + store.location()
        + ", not in a state directory, so it has no " + what);
  }

  private boolean hasLegacyBindings() {
    return store instanceof LedgerStore file && file.hasLegacyBindings();
  }
}
