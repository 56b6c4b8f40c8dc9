package io.gpuvirt.core.mig;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.ledger.LeaseLedger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * MIG slices as leases: "a 3g.90gb slice for vm-9" creates a GPU instance (with its default
 * compute instance) on the GPU where it fits best, records it in the host's lease ledger under the
 * same ownership rules as every other lease, and gives it back on teardown.
 *
 * <pre>{@code
 * MigProvisioner mig = MigProvisioner.on(NvidiaSmiMigBackend.on(runner), host.ledger());
 * Lease lease = mig.provision("vm-9", "3g.90gb");    // GPU, placement, GPU-instance id
 * mig.teardown("vm-9");
 * }</pre>
 *
 * <p><b>Choice</b>: among the GPUs with MIG on (no change pending) that no lease holds whole or
 * serves vGPUs from, those where the driver has a placement for the profile; best fit: the GPU
 * with the fewest memory slices left free after it (so emptier GPUs keep room for large
 * profiles), then the lowest index. A refusal names every GPU and why.
 *
 * <p><b>Crash safety</b>: the lease is recorded with the placement the driver will use
 * ({@link MigLayout#driverPlacement}) before the instance is created, and is {@code ACTIVATING}
 * while it is; {@link #recover} finds an instance of an unfinished lease by GPU, profile and
 * placement, destroys it and releases the lease, and finishes an interrupted teardown. A GPU
 * instance no lease holds is never touched (mig-parted or an operator made it).
 */
public final class MigProvisioner {
  private static final Logger LOG = LoggerFactory.getLogger(MigProvisioner.class);

  private final MigBackend backend;
  private final LeaseLedger ledger;
  private final List<MigProfileTable> tables;

  private MigProvisioner(MigBackend backend, LeaseLedger ledger, List<MigProfileTable> tables) {
    this.backend = backend;
    this.ledger = ledger;
    this.tables = tables;
  }

  /** MIG leases through {@code backend}, recorded in {@code ledger}, with the built-in tables. */
  public static MigProvisioner on(MigBackend backend, LeaseLedger ledger) {
    return new MigProvisioner(Objects.requireNonNull(backend, "backend"),
        Objects.requireNonNull(ledger, "ledger"), MigProfileTable.builtIn());
  }

  /** The same with {@code value} as the profile tables (first match by device id wins). */
  public MigProvisioner withTables(List<MigProfileTable> value) {
    return new MigProvisioner(backend, ledger, List.copyOf(value));
  }

  private Optional<MigProfileTable> table(MigGpu gpu) {
    return tables.stream().filter(t -> t.appliesTo(gpu.pciDeviceId())).findFirst();
  }

  /**
   * Gives {@code owner} one GPU instance of {@code profile}, or returns its lease when it holds
   * one of that profile (idempotent by owner).
   *
   * @throws AllocationRefusedException naming every GPU and why it cannot take the instance;
   *     nothing was changed
   * @throws MigBackendException when the driver refused the creation (the lease was released), or
   *     the instance could not be read back (it was destroyed and the lease released; where that
   *     failed too, the lease stays {@code ACTIVATING} for {@link #recover})
   */
  public Lease provision(String owner, String profile) {
    AllocationRequest.checkOwner(owner);
    GpuInstanceProfile.checkName(profile);
    return ledger.underOperationLock(() -> doProvision(owner, profile));
  }

  private Lease doProvision(String owner, String profile) {
    List<MigGpu> gpus = backend.gpus();
    Lease lease = ledger.allocateMig(owner, existing -> existing.groups().isEmpty()
        && existing.vgpus().isEmpty() && existing.migs().size() == 1
        && existing.migs().get(0).profile().equals(profile),
        others -> choose(owner, profile, gpus, others));
    if (lease.state() == LeaseState.BOUND) {
      return lease;
    }
    if (lease.state() != LeaseState.ALLOCATED) {
      throw new MigBackendException("the MIG lease of " + owner + " was left " + lease.state()
          + " by an interrupted operation; run recovery first (MigProvisioner.recover, or "
          + "gpuvirt recover), then provision again");
    }
    MigAssignment planned = lease.migs().get(0);
    MigGpu gpu = gpus.stream().filter(g -> g.address().equals(planned.gpu())).findFirst()
        .orElseThrow();
    ledger.updateState(owner, LeaseState.ACTIVATING); // journal: the instance is being created
    GpuInstance created;
    try {
      created = backend.createGpuInstance(gpu.index(), table(gpu).orElseThrow()
          .profile(planned.profile()));
    } catch (GpuvirtException e) {
      // a refusal changed nothing; a failure after the driver made it (reading it back) did:
      // destroy what is at the planned placement, then release
      try {
        destroy(owner, planned);
      } catch (GpuvirtException undo) {
        e.addSuppressed(undo);
        LOG.warn("{}: the lease stays ACTIVATING for recovery: {}", owner, undo.getMessage());
        throw e;
      }
      ledger.release(owner);
      throw e;
    }
    MigAssignment made = new MigAssignment(planned.gpu(), planned.profile(), planned.profileId(),
        created.placement(), OptionalInt.of(created.id()));
    Lease bound = ledger.update(owner, l -> l.withMigs(List.of(made))
        .withState(LeaseState.BOUND));
    LOG.info("MIG GPU instance {} leased to {}", made, owner);
    return bound;
  }

  private Lease choose(String owner, String profile, List<MigGpu> gpus, List<Lease> others) {
    record Fit(MigGpu gpu, GpuInstanceProfile profile, MigPlacement placement, long freeAfter) {}
    List<Fit> fits = new ArrayList<>();
    List<String> why = new ArrayList<>();
    for (MigGpu g : gpus) {
      Optional<String> held = others.stream().filter(l -> l.device(g.address()).isPresent()
          || l.vgpus().stream().anyMatch(v -> v.pf().equals(g.address())))
          .map(Lease::owner).findFirst();
      if (held.isPresent()) {
        why.add(g.describe() + ": leased to " + held.get());
        continue;
      }
      if (!g.mode().enabled() || g.mode().changePending()) {
        why.add(g.describe() + ": MIG is " + g.mode().current() + (g.mode().changePending()
            ? " (" + g.mode().pending() + " pending a reset)" : "") + "; turn it on with gpuvirt"
            + " mig apply (or nvidia-smi -i " + g.index() + " -mig 1 and a reset)");
        continue;
      }
      Optional<MigProfileTable> table = table(g);
      if (table.isEmpty()) {
        why.add(g.describe() + ": no MIG profile table for its model");
        continue;
      }
      GpuInstanceProfile p;
      try {
        p = table.get().profile(profile);
      } catch (InvalidValueException e) {
        why.add(g.describe() + ": its model has no profile " + profile + " ("
            + table.get().profileNames() + ")");
        continue;
      }
      MigLayout layout = backend.layout(g.index(), table.get());
      Optional<MigPlacement> at = layout.driverPlacement(p);
      if (at.isEmpty()) {
        why.add(g.describe() + ": no free placement for " + profile + " (free memory slices "
            + layout.freeSlicesText() + ", instances " + layout.profileCounts() + ")");
        continue;
      }
      long free = table.get().memorySlices() - Long.bitCount(layout.usedMask() | at.get().mask());
      fits.add(new Fit(g, p, at.get(), free));
    }
    if (fits.isEmpty()) {
      throw new AllocationRefusedException(owner, "cannot give " + owner + " a MIG " + profile
          + " GPU instance: " + (why.isEmpty() ? "no MIG-capable GPU on the nvidia driver"
              : String.join("; ", why)) + "; nothing was changed");
    }
    Fit best = fits.stream().min(Comparator.comparingLong(Fit::freeAfter)
        .thenComparingInt(f -> f.gpu().index())).orElseThrow();
    AllocationRequest request = AllocationRequest.builder(owner).count(1)
        .selector(DeviceSelector.addresses(List.of(best.gpu().address()))).build();
    return new Lease(owner, LeaseOrigin.PROVISION, LeaseState.ALLOCATED, request, List.of(),
        OptionalInt.empty(), List.of(best.profile().name() + " at " + best.placement() + " on "
            + best.gpu().describe() + ": best fit, " + best.freeAfter() + " memory slices left "
            + "free there"), Instant.now(), Optional.empty(), List.of(),
        List.of(new MigAssignment(best.gpu().address(), best.profile().name(),
            best.profile().id(), best.placement(), OptionalInt.empty())));
  }

  /**
   * Destroys the owner's GPU instances (their compute instances first) and releases the lease.
   * An instance already gone (the GPU was reset) is skipped. Idempotent: an owner without a lease
   * changes nothing.
   *
   * @return the lease released
   * @throws MigBackendException when an instance cannot be destroyed (the lease stays, marked
   *     {@code TEARING_DOWN}; run teardown again once the GPU is idle)
   */
  public Optional<Lease> teardown(String owner) {
    AllocationRequest.checkOwner(owner);
    return ledger.underOperationLock(() -> doTeardown(owner));
  }

  private Optional<Lease> doTeardown(String owner) {
    Optional<Lease> lease = ledger.lease(owner);
    if (lease.isEmpty()) {
      return Optional.empty();
    }
    if (lease.get().migs().isEmpty()) {
      throw new InvalidValueException("the lease of " + owner + " holds no MIG instance; end it"
          + " with gpuvirt teardown (Provisioner.teardown)");
    }
    ledger.updateState(owner, LeaseState.TEARING_DOWN);
    for (MigAssignment m : lease.get().migs()) {
      destroy(owner, m);
    }
    return ledger.release(owner);
  }

  /** Destroys the instance of {@code m} if the GPU still has it. */
  private void destroy(String owner, MigAssignment m) {
    Optional<MigGpu> gpu = backend.gpus().stream().filter(g -> g.address().equals(m.gpu()))
        .findFirst();
    if (gpu.isEmpty() || !gpu.get().mode().enabled() || table(gpu.get()).isEmpty()) {
      LOG.info("{}: GPU {} has MIG off or is gone; nothing to destroy for {}", owner, m.gpu(), m);
      return;
    }
    MigLayout layout = backend.layout(gpu.get().index(), table(gpu.get()).get());
    Optional<GpuInstance> gi = layout.instances().stream()
        .filter(i -> m.gpuInstanceId().isPresent() ? i.id() == m.gpuInstanceId().getAsInt()
            && i.placement().equals(m.placement())
            : i.placement().equals(m.placement()) && i.profile().name().equals(m.profile()))
        .findFirst();
    if (gi.isEmpty()) {
      LOG.info("{}: {} no longer exists (the GPU was reset?)", owner, m);
      return;
    }
    for (ComputeInstance ci : backend.computeInstances(gpu.get().index())) {
      if (ci.gpuInstanceId() == gi.get().id()) {
        backend.destroyComputeInstance(gpu.get().index(), ci.gpuInstanceId(), ci.id());
      }
    }
    backend.destroyGpuInstance(gpu.get().index(), gi.get().id());
  }

  /**
   * Brings MIG leases and the GPUs back to agreement after a crash: a lease whose instance was
   * being created ({@code ALLOCATED} or {@code ACTIVATING}) is rolled back (its instance, found by
   * GPU, profile and placement, destroyed if it was made; the lease released), and a teardown that
   * was interrupted is finished. Instances no lease holds are left alone.
   *
   * @return what was done, one line per action
   */
  public List<String> recover() {
    return ledger.underOperationLock(() -> {
      List<String> actions = new ArrayList<>();
      for (Lease lease : ledger.leases()) {
        if (lease.migs().isEmpty()) {
          continue;
        }
        if (lease.state() == LeaseState.ALLOCATED || lease.state() == LeaseState.ACTIVATING) {
          for (MigAssignment m : lease.migs()) {
            destroy(lease.owner(), m);
          }
          ledger.release(lease.owner());
          actions.add("rolled back the unfinished MIG lease of " + lease.owner() + " ("
              + lease.migs() + ")");
        } else if (lease.state() == LeaseState.TEARING_DOWN) {
          doTeardown(lease.owner());
          actions.add("finished the teardown of the MIG lease of " + lease.owner());
        }
      }
      return List.copyOf(actions);
    });
  }
}
