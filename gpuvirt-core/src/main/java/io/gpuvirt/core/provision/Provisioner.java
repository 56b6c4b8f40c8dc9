package io.gpuvirt.core.provision;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceRole;
import io.gpuvirt.core.alloc.DeviceReset;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.vfio.VfioDriverRule;
import io.gpuvirt.core.vfio.VfioDrivers;
import java.util.Collection;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.RestartAwareFabricManager;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.AllocationOptions;
import io.gpuvirt.core.ledger.Discrepancy;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.vfio.BindException;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.BindStep;
import io.gpuvirt.core.vfio.DeviceBinding;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.core.vfio.VfioGroupNode;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vmplan.VmPlan;
import io.gpuvirt.core.vmplan.VmPlanException;
import io.gpuvirt.core.vmplan.VmPlanner;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole provisioning flow, from "4 GPUs for vm-42" to devices a VM can use, and back.
 *
 * <p>Provision: allocate (the lease is the journal of intent) → plan the VM (with a
 * {@link VmPlanner}; a VM that cannot be planned is refused before the host changes) → reset the
 * GPUs on their host driver → activate the lease's Fabric Manager partition (shared NVSwitch hosts)
 * → bind the lease's IOMMU groups to VFIO → verify → commit (lease BOUND). The host's topology is
 * scanned once per operation; later steps re-read only the leased devices' driver state.
 * Teardown reverses it: restore the original drivers → deactivate the partition → release the
 * lease.
 *
 * <p>What an operation will change on the host is recorded before it starts, in one commit, and
 * its result in a second: a provisioning records its lease as {@link LeaseState#BINDING} (each
 * device's reset and VFIO driver) with the allocation itself, or over the owner's reservation, and
 * commits it BOUND at the end; a teardown records {@link LeaseState#TEARING_DOWN}, then releases.
 * ({@link LeaseState#ACTIVATING}, which earlier releases wrote between the two, is still recovered.)
 * A failing step rolls back what was done, in reverse order, and throws a
 * {@link ProvisioningException} naming the step, the device and the cause. A crash at any point is
 * recovered by {@link #recover()} (call it at start-up): an interrupted provision is undone, an
 * interrupted teardown is finished. A plain reservation ({@link LeaseState#ALLOCATED}, nothing
 * changed on the host) is left as it is; provisioning the same owner continues from it.
 *
 * <p>Operations take the state directory's operation lock, so they are safe across threads and
 * processes on one host; each operation is idempotent by owner.
 *
 * <pre>{@code
 * LeaseLedger ledger = LeaseLedger.open(Path.of("/var/lib/gpuvirt"));
 * Provisioner provisioner = Provisioner.builder(Sysfs.host(), ledger)
 *     .partitions(new PartitionContext(fabricManager, moduleIds))   // shared NVSwitch hosts only
 *     .vmPlanner(planner)                                            // e.g. gpuvirt-qemu's
 *     .listener(event -> log.info("{}", event))
 *     .build();
 * provisioner.recover();
 * Provisioned vm = provisioner.provision(AllocationRequest.builder("vm-42").count(4).build());
 * // ... run the VM from vm.plan() ...
 * provisioner.teardown("vm-42");
 * }</pre>
 */
public final class Provisioner {
  /** How long a reservation made on the way to provisioning lasts by default: 10 minutes. */
  public static final Duration DEFAULT_RESERVATION_TIMEOUT = Duration.ofMinutes(10);
  private static final Logger LOG = LoggerFactory.getLogger(Provisioner.class);
  /** vGPU teardown clears VF types through sysfs; it runs no programs, and says so if asked to. */
  private static final CommandRunner NO_PROGRAMS = c -> {
    throw new CommandException(c.argv(), "vGPU teardown runs no programs", null);
  };

  private final Sysfs sysfs;
  private final LeaseLedger ledger;
  private final Optional<PartitionContext> partitions;
  private final String vfioDriver;
  private final Optional<VfioDriverRule> driverRule;
  private final boolean resetBeforeBind;
  private final GpuDriverPolicy driverPolicy;
  private final Duration reservationTimeout;
  private final ProgressListener listener;
  private final Optional<VmPlanner> vmPlanner;
  private final VfioBinder binder;
  private final Optional<VgpuProvisioner> vgpuProvisioner;
  private final boolean fabricVgpuMode;

  private Provisioner(Builder b) {
    this.sysfs = b.sysfs;
    this.ledger = b.ledger;
    // A Fabric Manager restarted in resiliency mode refuses everything until it is told which
    // partitions are active: tell it from the leases, on whatever call first meets the refusal.
    this.partitions = b.partitions.map(p -> p.fabricManager() instanceof RestartAwareFabricManager
        ? p : new PartitionContext(RestartAwareFabricManager.wrap(p.fabricManager(),
            b.ledger::leasedActivePartitionIds), p.moduleIds()));
    this.vfioDriver = b.vfioDriver.orElse(b.driverRule.fallback());
    this.driverRule = b.vfioDriver.isPresent() ? Optional.empty() : Optional.of(b.driverRule);
    this.resetBeforeBind = b.resetBeforeBind;
    this.driverPolicy = b.driverPolicy;
    this.reservationTimeout = b.reservationTimeout;
    this.listener = b.listener;
    this.vmPlanner = b.vmPlanner;
    this.binder = VfioBinder.on(sysfs);
    this.vgpuProvisioner = b.vgpuProvisioner;
    this.fabricVgpuMode = b.fabricVgpuMode;
  }

  /** A builder for the host behind {@code sysfs} with its lease ledger. */
  public static Builder builder(Sysfs sysfs, LeaseLedger ledger) {
    return new Builder(sysfs, ledger);
  }

  /** Whether this provisioner hands out Fabric Manager partitions (shared NVSwitch mode). */
  public boolean partitionMode() {
    return partitions.isPresent();
  }

  /**
   * Provisions devices for {@code request.owner()}. Idempotent: an owner already provisioned for an
   * equal request gets its lease back unchanged, once its devices are checked to be still on the
   * VFIO driver (the partition's state is {@code reconcile}'s to check).
   *
   * @throws io.gpuvirt.core.alloc.AllocationRefusedException when the host has no capacity for it
   *     (the message says what is free); nothing was changed
   * @throws ProvisioningException when a step failed; what was done has been rolled back (an
   *     owner that had reserved its devices before the call keeps the reservation)
   */
  public Provisioned provision(AllocationRequest request) {
    Objects.requireNonNull(request, "request");
    return ledger.underOperationLock(() -> doProvision(request,
        new Flow(LeaseOrigin.PROVISION, vfioDriver, resetBeforeBind, Optional.empty())));
  }

  /**
   * Binds the IOMMU groups of {@code request}'s devices to its VFIO driver as a lease of
   * {@code owner} (origin {@link LeaseOrigin#BIND}): the manual counterpart of
   * {@link #provision}, under the same lock, journal, rollback and ownership rules. The lease holds
   * the devices' whole groups, never a Fabric Manager partition; it records each device's driver,
   * driver_override, the VFIO driver and any reset, and {@link #restore} or {@link #teardown} puts
   * back exactly those. Idempotent by owner.
   *
   * @throws AllocationRefusedException when a device is leased to another owner or in use outside
   *     gpuvirt (on a VFIO driver without a lease), or its group cannot be handed over whole;
   *     nothing was changed
   * @throws io.gpuvirt.core.vfio.GroupRefusedException when the binder refuses the request (a
   *     guard rail); nothing was changed
   * @throws ProvisioningException when a step failed; what was done has been rolled back
   */
  public Provisioned bind(String owner, BindRequest request) {
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(request, "request");
    AllocationRequest allocation = AllocationRequest.builder(owner)
        .count(request.devices().size())
        .selector(DeviceSelector.parse(String.join(",",
            request.sortedDevices().stream().map(PciAddress::toString).toList())))
        .allowForeign(request.allowedForeignDevices())
        .build();
    return ledger.underOperationLock(() -> doProvision(allocation,
        new Flow(LeaseOrigin.BIND, request.driver(), request.resetBeforeBind(),
            Optional.of(request))));
  }

  /**
   * Ends the manual bindings ({@link #bind}) that hold {@code devices}: every device of each such
   * lease goes back to the driver and driver_override it had, and the lease is released. A lease
   * is ended whole, even when only one of its devices is named.
   *
   * @return the leases ended, sorted by owner
   * @throws io.gpuvirt.core.vfio.GroupRefusedException before any change, when a device is held by
   *     no lease (naming whether it is in use outside gpuvirt) or by a provisioned VM's lease (end
   *     that with {@link #teardown})
   * @throws ProvisioningException when a step failed (see {@link #teardown})
   */
  public List<Lease> restore(Collection<PciAddress> devices) {
    if (devices.isEmpty()) {
      throw new InvalidValueException("restore names no device; give at least one address");
    }
    return ledger.underOperationLock(() -> {
      ledger.upgrade(() -> TopologyScanner.scan(sysfs));
      List<Lease> leases = ledger.leases();
      java.util.TreeMap<String, Lease> toEnd = new java.util.TreeMap<>();
      for (PciAddress a : new java.util.TreeSet<>(devices)) {
        Optional<Lease> holder = leases.stream().filter(l -> l.device(a).isPresent()).findFirst();
        if (holder.isEmpty()) {
          Optional<String> driver = binder.driverOf(a);
          throw new io.gpuvirt.core.vfio.GroupRefusedException("refusing to restore " + a
              + ": no gpuvirt lease holds it" + (driver.filter(VfioDrivers::isVfioDriver)
                  .map(d -> "; it is on " + d + ", so it is in use outside gpuvirt (a VM"
                      + " another tool started, or a binding made without a lease) and gpuvirt"
                      + " leaves it alone")
                  .orElse(" and it is on " + driver.orElse("no driver")
                      + ", not a VFIO driver: there is nothing to restore"))
              + ". Nothing was changed; 'gpuvirt status' lists the leases", List.of(a));
        }
        if (holder.get().origin() != LeaseOrigin.BIND) {
          throw new io.gpuvirt.core.vfio.GroupRefusedException("refusing to restore " + a
              + ": it belongs to " + holder.get().owner() + ", a provisioned VM's lease;"
              + " end it with 'gpuvirt teardown --owner " + holder.get().owner() + "' once its"
              + " VM is gone. Nothing was changed", List.of(a));
        }
        toEnd.put(holder.get().owner(), holder.get());
      }
      for (String owner : toEnd.keySet()) {
        doTeardown(owner);
      }
      return List.copyOf(toEnd.values());
    });
  }

  /** How one provisioning or binding is carried out. */
  private record Flow(LeaseOrigin origin, String driver, boolean reset,
      Optional<BindRequest> template) {
    Flow withDriver(String value) {
      return new Flow(origin, value, reset, template);
    }
  }

  /**
   * On a host whose Fabric Manager runs in vGPU mode, Fabric Manager activates partitions only
   * with VF lists, so a whole NVIDIA GPU given to a VM would have no NVLink fabric: refused before
   * anything is recorded.
   */
  private static void refuseWholeNvidiaGpus(AllocationRequest request, Topology topology) {
    List<PciAddress> gpus = topology.devices().stream()
        .filter(d -> d.isGpu() && d.id().vendor() == PciId.NVIDIA
            && request.selector().matches(d))
        .map(PciDevice::address).toList();
    if (!gpus.isEmpty()) {
      throw new AllocationRefusedException(request.owner(), "whole GPUs for " + request.owner()
          + " refused: this host's Fabric Manager runs in vGPU mode (FABRIC_MODE=2), where it "
          + "activates partitions only with the VFs of vGPUs, so a whole GPU (" + gpus.get(0)
          + (gpus.size() > 1 ? " and " + (gpus.size() - 1) + " more" : "") + ") would have no "
          + "NVLink fabric in the VM; provision vGPUs (gpuvirt provision --vgpu TYPE), or set "
          + "FABRIC_MODE=1 for whole-GPU partitions; nothing was changed");
    }
  }

  private Provisioned doProvision(AllocationRequest request, Flow requested) {
    String owner = request.owner();
    Optional<Lease> existing = ledger.lease(owner);
    if (existing.isPresent() && existing.get().state() == LeaseState.BOUND
        && existing.get().request().equals(request)
        && existing.get().origin() == requested.origin()) {
      return alreadyProvisioned(existing.get());
    }
    if (existing.isPresent() && existing.get().state().inFlight()) {
      undo(existing.get(), ProvisionStep.ALLOCATE, Optional.empty());
    }
    // An owner that reserved its devices (gpuvirt allocate) keeps the reservation if this fails.
    Optional<Lease> reserved = existing.filter(l -> l.state() == LeaseState.ALLOCATED
        && l.request().equals(request));
    Lease lease;
    // The one scan of this operation: allocation, the binder's checks and the binding all read
    // it; afterwards only the leased devices' own files are read again (driver, driver_override).
    Topology[] scanned = new Topology[1];
    try {
      lease = timed(owner, ProvisionStep.ALLOCATE, Optional.empty(), () -> {
        Topology topology = TopologyScanner.scan(sysfs);
        scanned[0] = topology;
        if (fabricVgpuMode && requested.origin() == LeaseOrigin.PROVISION) {
          refuseWholeNvidiaGpus(request, topology);
        }
        // The intent is recorded with the allocation, in one commit: the lease is BINDING from
        // the start, with each device's reset and VFIO driver (a driver rule that refuses the
        // GPUs leaves it plain, and the refusal below releases it).
        AllocationOptions options = AllocationOptions.defaults().withOrigin(requested.origin())
            .withDriverPolicy(driverPolicy).withLifetime(reservationTimeout)
            .withRecordedAs(chosen -> {
              try {
                return intent(chosen, flowFor(chosen, requested, topology));
              } catch (InvalidValueException refused) {
                return chosen;
              }
            });
        if (partitions.isPresent() && requested.origin() == LeaseOrigin.PROVISION) {
          options = options.withPartitions(partitions.get());
        }
        return ledger.allocate(request, topology, options);
      }, l -> "IOMMU groups " + l.groupNumbers()
          + l.partitionId().stream().mapToObj(p -> ", partition " + p).findFirst().orElse(""));
    } catch (AllocationRefusedException | io.gpuvirt.core.ledger.LedgerFormatException e) {
      // Refused, or the ledger cannot be read (corrupt, or newer): nothing was changed.
      throw e;
    } catch (GpuvirtException e) {
      // Reading the host, asking Fabric Manager or writing the ledger failed: nothing was changed.
      throw new ProvisioningException(owner, ProvisionStep.ALLOCATE, null, true, "provisioning "
          + owner + " failed at " + ProvisionStep.ALLOCATE + ": " + e.getMessage()
          + "; nothing was changed", e);
    }

    // The binder's refusals (a foreign device, a mounted filesystem, a driver that is not a VFIO
    // driver) come before anything changes on the host: no reset of a device that cannot be bound.
    Topology topology = scanned[0];
    Flow flow;
    try {
      flow = flowFor(lease, requested, topology);
    } catch (InvalidValueException e) {
      undoBeforeChanges(lease, ProvisionStep.ALLOCATE, reserved);
      throw new io.gpuvirt.core.vfio.GroupRefusedException("refusing to provision " + owner
          + ": " + e.getMessage() + ". Nothing was changed", lease.passedThroughDevices()
              .stream().map(LeasedDevice::address).toList());
    }
    return bindAndCommit(request, flow, lease, reserved, topology);
  }

  /** The flow for this lease: on a provisioning, the VFIO driver the rule picks for its GPUs. */
  private Flow flowFor(Lease lease, Flow requested, Topology topology) {
    if (requested.origin() == LeaseOrigin.PROVISION && driverRule.isPresent()) {
      return requested.withDriver(driverRule.get().driverFor(lease.passedThroughDevices()
          .stream().map(d -> topology.device(d.address())).flatMap(Optional::stream)
          .filter(PciDevice::isGpu).toList()));
    }
    return requested;
  }

  /**
   * The lease as the journal of intent of a provisioning: BINDING, with the reset each requested
   * device is about to get and the VFIO driver each passed-through device is about to be bound to,
   * recorded before anything changes on the host.
   */
  private Lease intent(Lease lease, Flow flow) {
    return lease.withState(LeaseState.BINDING).withDevices(d -> {
      LeasedDevice withReset = flow.reset() && d.role() == DeviceRole.REQUESTED
          && resettable(d.address())
              ? d.withReset(new DeviceReset(d.originalDriver().orElse(""),
                  resetMethods(d.address())))
              : d;
      return withReset.role().passedThrough() ? withReset.withVfioDriver(flow.driver())
          : withReset;
    });
  }

  private Provisioned bindAndCommit(AllocationRequest request, Flow flow, Lease lease,
      Optional<Lease> reserved, Topology topology) {
    String owner = request.owner();
    try {
      binder.plan(bindRequest(lease, flow), topology);
    } catch (io.gpuvirt.core.vfio.GroupRefusedException e) {
      undoBeforeChanges(lease, ProvisionStep.ALLOCATE, reserved);
      throw e;
    }

    // The VM is planned before anything changes on the host: one that cannot be planned (an
    // aperture QEMU cannot map, a slot with too many functions) never takes its devices.
    Optional<VmPlan> plan;
    try {
      plan = plan(lease, flow);
    } catch (RuntimeException e) {
      boolean rolledBack = true;
      try {
        undoBeforeChanges(lease, ProvisionStep.PLAN, reserved);
      } catch (RuntimeException rollbackFailure) {
        e.addSuppressed(rollbackFailure);
        rolledBack = false;
      }
      throw planFailed(owner, e, rolledBack, rolledBack
          ? "; nothing was changed on the host and the lease was "
              + (reserved.isPresent() ? "put back as the reservation it was" : "released")
          : "; releasing the lease failed too, it stays in the ledger for 'gpuvirt recover'");
    }

    ProvisionStep step = ProvisionStep.RESET;
    PciAddress device = null;
    // Whether this call activated the partition: if activation itself fails (someone else
    // activated it meanwhile), the rollback must not deactivate a partition that is not ours.
    boolean[] activated = {false};
    boolean[] bindStarted = {false};
    try {
      if (lease.state() == LeaseState.BOUND) {
        throw new GpuvirtException("lease of " + owner + " is already BOUND for another request;"
            + " tear it down first");
      }
      // Journal before acting: recorded with the allocation, or now over the owner's reservation
      // (which devices are about to be reset and how, the VFIO driver each is about to be bound to).
      Lease binding = lease.state() == LeaseState.BINDING ? lease
          : ledger.update(owner, l -> intent(l, flow));
      for (LeasedDevice d : binding.requestedDevices()) {
        if (d.reset().isPresent()) {
          device = d.address();
          reset(owner, d);
        }
      }
      device = null;
      if (binding.partitionId().isPresent()) {
        step = ProvisionStep.ACTIVATE_PARTITION;
        int id = binding.partitionId().getAsInt();
        timed(owner, step, Optional.empty(), () -> {
          fabricManager().activate(id);
          activated[0] = true;
          return id;
        }, p -> "partition " + p + " active (GPU modules " + moduleIdsOf(binding) + ")");
      }
      step = ProvisionStep.BIND;
      bindStarted[0] = true;
      timed(owner, step, Optional.empty(),
          () -> binder.bind(bindRequest(binding, flow), topology),
          r -> r.devices().size() + " devices on " + flow.driver() + " in groups "
              + binding.groupNumbers());
      step = ProvisionStep.VERIFY;
      timed(owner, step, Optional.empty(), () -> {
        verify(binding);
        return binding;
      }, l -> "every device on " + flow.driver()
          + (l.partitionId().isPresent() ? ", partition active" : ""));
      step = ProvisionStep.COMMIT;
      Lease committed = timed(owner, step, Optional.empty(),
          () -> ledger.update(owner, l -> l.withState(LeaseState.BOUND)
              .withoutExpiry()), l -> "lease BOUND");
      return new Provisioned(committed, nodes(committed), plan, false);
    } catch (RuntimeException e) {
      PciAddress failed = device;
      if (e instanceof BindException && ((BindException) e).device().isPresent()) {
        failed = ((BindException) e).device().get();
      }
      boolean rolledBack = true;
      try {
        undo(ledger.lease(owner).orElse(lease), step, reserved, activated[0], bindStarted[0]);
      } catch (RuntimeException rollbackFailure) {
        e.addSuppressed(rollbackFailure);
        rolledBack = false;
      }
      throw new ProvisioningException(owner, step, failed, rolledBack, "provisioning " + owner
          + " failed at " + step + (failed == null ? "" : " on " + failed) + ": " + e.getMessage()
          + (rolledBack ? "; everything done so far was rolled back"
              : "; rollback failed too, the lease stays in the ledger for 'gpuvirt recover'"), e);
    }
  }

  /** The answer to a repeated request, once the lease's devices are seen still on VFIO. */
  private Provisioned alreadyProvisioned(Lease lease) {
    String owner = lease.owner();
    try {
      verifyDrivers(lease);
    } catch (BindException e) {
      throw new ProvisioningException(owner, ProvisionStep.VERIFY, e.device().orElse(null), true,
          owner + " is BOUND in the ledger but the host no longer matches: " + e.getMessage()
          + " (was the host rebooted, or the device moved by another tool?); nothing was changed."
          + " Tear it down ('gpuvirt teardown " + owner + "') and provision again", e);
    }
    Optional<VmPlan> plan;
    try {
      plan = plan(lease, new Flow(lease.origin(), vfioDriver, false, Optional.empty()));
    } catch (RuntimeException e) {
      throw planFailed(owner, e, true, "; " + owner + " stays provisioned as it was (nothing"
          + " changed); tear it down if its VM cannot run");
    }
    LOG.info("{} is already provisioned (IOMMU groups {})", owner, lease.groupNumbers());
    return new Provisioned(lease, nodes(lease), plan, true);
  }

  /** The VM plan of a provisioned VM's lease; none for a manual binding or without a planner. */
  private Optional<VmPlan> plan(Lease lease, Flow flow) {
    if (vmPlanner.isEmpty() || flow.origin() != LeaseOrigin.PROVISION) {
      return Optional.empty();
    }
    VmPlanner planner = vmPlanner.get();
    return Optional.of(timed(lease.owner(), ProvisionStep.PLAN, Optional.empty(),
        () -> Objects.requireNonNull(planner.plan(lease), "the VM planner returned no plan"),
        p -> p.describe().size() + " decisions, a command of " + p.argv().size()
            + " arguments"));
  }

  private static ProvisioningException planFailed(String owner, RuntimeException e,
      boolean rolledBack, String outcome) {
    PciAddress device = e instanceof VmPlanException ? ((VmPlanException) e).device().orElse(null)
        : null;
    return new ProvisioningException(owner, ProvisionStep.PLAN, device, rolledBack,
        "provisioning " + owner + " failed at " + ProvisionStep.PLAN
            + (device == null ? "" : " on " + device) + ": the VM cannot be planned: "
            + e.getMessage() + outcome, e);
  }

  /**
   * Releases everything {@code owner} holds: restores the original drivers, deactivates the
   * partition and releases the lease. Call it when the VM's QEMU process is gone. Idempotent: an
   * owner without a lease is a no-op that returns false.
   *
   * @return whether the owner held a lease
   * @throws ProvisioningException when a step failed; the lease is BOUND again, as before the call
   */
  public boolean teardown(String owner) {
    AllocationRequest.checkOwner(owner);
    if (Files.notExists(ledger.stateDirectory())) {
      // no state directory: no lease, no journal, nothing to tear down, and nothing is created
      LOG.info("{} holds no lease (no {}); nothing to tear down", owner, ledger.stateDirectory());
      return false;
    }
    Optional<Lease> migLease = ledger.lease(owner).filter(l -> !l.migs().isEmpty());
    if (migLease.isPresent()) {
      // its GPU instances are destroyed through the MIG backend, which this provisioner lacks
      throw new ProvisioningException(owner, ProvisionStep.RESTORE_DRIVERS, null, false,
          "the lease of " + owner + " holds MIG GPU instances (" + migLease.get().migs()
              + "); end it with MigProvisioner.teardown (gpuvirt teardown does); nothing was "
              + "changed", null);
    }
    Optional<Lease> vgpuLease = ledger.lease(owner)
        .filter(l -> !l.vgpus().isEmpty() && l.groups().isEmpty());
    if (vgpuLease.isPresent()) {
      // A vGPU lease: its VFs' types are cleared by the vGPU path, through sysfs only.
      return vgpuProvisioner.orElseGet(() -> VgpuProvisioner.on(VgpuDevices.on(sysfs,
          NO_PROGRAMS), ledger)).teardown(owner).isPresent();
    }
    return ledger.underOperationLock(() -> doTeardown(owner));
  }

  private boolean doTeardown(String owner) {
    ledger.upgrade(() -> TopologyScanner.scan(sysfs));
    Optional<Lease> found = ledger.lease(owner);
    if (found.isEmpty()) {
      LOG.info("{} holds no lease; nothing to tear down", owner);
      return false;
    }
    Lease lease = found.get();
    if (lease.state() != LeaseState.BOUND) {
      undo(lease, ProvisionStep.RELEASE, Optional.empty());
      return true;
    }
    // The one scan of this teardown: the disagreement check and the restore's group check.
    Topology topology = TopologyScanner.scan(sysfs);
    refuseDisagreement(lease, topology);
    ledger.updateState(owner, LeaseState.TEARING_DOWN);
    ProvisionStep step = ProvisionStep.RESTORE_DRIVERS;
    try {
      timed(owner, step, Optional.empty(), () -> binder.restore(bindings(lease), topology),
          r -> r.restored().size() + " devices back on their drivers");
      if (lease.partitionId().isPresent()) {
        step = ProvisionStep.DEACTIVATE_PARTITION;
        int id = lease.partitionId().getAsInt();
        timed(owner, step, Optional.empty(), () -> {
          deactivateIfActive(id);
          return id;
        }, p -> "partition " + p + " inactive");
      }
      step = ProvisionStep.RELEASE;
      timed(owner, step, Optional.empty(), () -> ledger.release(owner), r -> "lease released");
      return true;
    } catch (RuntimeException e) {
      boolean rolledBack = true;
      try {
        rebind(lease);
      } catch (RuntimeException rollbackFailure) {
        e.addSuppressed(rollbackFailure);
        rolledBack = false;
      }
      PciAddress failed = e instanceof BindException ? ((BindException) e).device().orElse(null)
          : null;
      throw new ProvisioningException(owner, step, failed, rolledBack, "teardown of " + owner
          + " failed at " + step + (failed == null ? "" : " on " + failed) + ": " + e.getMessage()
          + (rolledBack ? "; the lease is BOUND again, retry the teardown"
              : "; the lease stays TEARING_DOWN for 'gpuvirt recover'"), e);
    }
  }

  /** What about a lease, if anything, makes tearing it down unsafe. */
  private static final java.util.Set<Discrepancy.Kind> STOPS_TEARDOWN = java.util.EnumSet.of(
      Discrepancy.Kind.LEASED_DEVICE_MISSING, Discrepancy.Kind.LEASED_GROUP_CHANGED,
      Discrepancy.Kind.LEASED_DEVICE_NOT_ON_VFIO, Discrepancy.Kind.LEASED_PARTITION_UNKNOWN,
      Discrepancy.Kind.LEASED_PARTITION_MISMATCH, Discrepancy.Kind.FABRIC_LISTING_INCONSISTENT);

  /**
   * Teardown restores what the lease says was done; when the lease disagrees with the host (a
   * device gone or swapped, a group changed, a device no longer on VFIO, a partition Fabric Manager
   * does not list or whose GPUs are not the lease's), restoring it would act on the wrong devices
   * or leave the right ones bound: stop before changing anything and say what disagrees.
   */
  private void refuseDisagreement(Lease lease, Topology topology) {
    List<Discrepancy> found = ledger.disagreements(lease.owner(), topology,
        partitions.map(PartitionContext::fabricManager),
        partitions.map(PartitionContext::moduleIds)).stream()
        .filter(d -> STOPS_TEARDOWN.contains(d.kind())).toList();
    if (!found.isEmpty()) {
      throw new ProvisioningException(lease.owner(), ProvisionStep.RESTORE_DRIVERS, null, true,
          "teardown of " + lease.owner() + " stopped before changing anything: its lease"
          + " disagrees with the host: " + found.stream().map(Discrepancy::toString)
              .collect(java.util.stream.Collectors.joining("; "))
          + ". Nothing was changed and the lease is still BOUND. Find out which is right with"
          + " 'gpuvirt status'; if the lease is wrong and its VM is gone, 'gpuvirt reconcile"
          + " --repair' drops it", null);
    }
  }

  /**
   * Finishes or undoes every operation a crash interrupted: a lease in ACTIVATING or BINDING is
   * rolled back (drivers restored, partition deactivated, lease released), a lease in TEARING_DOWN
   * is torn down. BOUND leases and plain reservations are left as they are. Before anything else,
   * a Fabric Manager that restarted in resiliency mode is told which partitions the leases hold
   * (set-activated), and state of an earlier release is converted. Call it at start-up.
   */
  public RecoveryReport recover() {
    return ledger.underOperationLock(() -> {
      List<String> actions = new ArrayList<>();
      List<String> failures = new ArrayList<>();
      if (partitions.isPresent()) {
        RestartAwareFabricManager fm = (RestartAwareFabricManager) fabricManager();
        try {
          if (fm.resyncIfRestarted()) {
            actions.add("told Fabric Manager, restarted in resiliency mode, that partitions "
                + ledger.leasedActivePartitionIds() + " are active");
          }
        } catch (GpuvirtException e) {
          failures.add("Fabric Manager: " + e.getMessage());
        }
      }
      if (ledger.upgrade(() -> TopologyScanner.scan(sysfs))) {
        actions.add("converted the bindings.json of an earlier release into leases");
      }
      for (Lease expired : ledger.reclaimExpired()) {
        actions.add(expired.owner() + ": released its reservation of IOMMU groups "
            + expired.groupNumbers() + ", which expired at " + expired.expiresAt().get()
            + " (a provisioning that never continued)");
      }
      for (Lease lease : ledger.leases()) {
        if (!lease.state().inFlight() || !lease.migs().isEmpty()
            || (!lease.vgpus().isEmpty() && lease.groups().isEmpty())) {
          // MIG leases are recovered by MigProvisioner.recover, through the driver, and vGPU
          // leases by VgpuProvisioner.recover (gpuvirt recover runs both)
          continue;
        }
        try {
          undo(lease, ProvisionStep.RELEASE, Optional.empty());
          actions.add(lease.owner() + ": " + (lease.state() == LeaseState.TEARING_DOWN
              ? "finished the interrupted teardown" : "rolled back the interrupted provisioning")
              + " (was " + lease.state() + ")");
        } catch (GpuvirtException e) {
          failures.add(lease.owner() + ": " + e.getMessage());
        }
      }
      return new RecoveryReport(actions, failures);
    });
  }

  /**
   * Restores drivers, deactivates the partition and releases the lease, in that order; or, when
   * {@code reservation} is given, puts the lease back exactly as that reservation instead of
   * releasing it (the owner had reserved the devices before this call).
   */
  /**
   * Undoes what a lease's operation may have done, judged by its journal state (after a crash):
   * drivers are restored once binding may have started (BINDING, BOUND, TEARING_DOWN), the
   * partition is deactivated unless the lease is a reservation.
   */
  private void undo(Lease lease, ProvisionStep failedStep, Optional<Lease> reservation) {
    boolean mayHaveBound = lease.state() == LeaseState.BINDING
        || lease.state() == LeaseState.BOUND || lease.state() == LeaseState.TEARING_DOWN;
    undo(lease, failedStep, reservation, lease.state() != LeaseState.ALLOCATED, mayHaveBound);
  }

  /** Undoes a provisioning refused before it changed anything on the host: the lease only. */
  private void undoBeforeChanges(Lease lease, ProvisionStep failedStep,
      Optional<Lease> reservation) {
    undo(lease, failedStep, reservation, false, false);
  }

  /**
   * Undoes what a lease's operation may have done: drivers are only restored when binding may
   * have started, the partition is only deactivated when this operation may have activated it.
   */
  private void undo(Lease lease, ProvisionStep failedStep, Optional<Lease> reservation,
      boolean partitionMayBeOurs, boolean mayHaveBound) {
    String owner = lease.owner();
    LOG.warn("undoing {} (lease {}, after {})", owner, lease.state(), failedStep);
    if (mayHaveBound) {
      timed(owner, ProvisionStep.RESTORE_DRIVERS, Optional.empty(),
          () -> binder.recover(bindings(lease)),
          r -> r.restored().size() + " devices back on their drivers");
    }
    if (lease.partitionId().isPresent() && partitionMayBeOurs) {
      int id = lease.partitionId().getAsInt();
      timed(owner, ProvisionStep.DEACTIVATE_PARTITION, Optional.empty(), () -> {
        deactivateIfActive(id);
        return id;
      }, p -> "partition " + p + " inactive");
    }
    if (reservation.isPresent()) {
      ledger.update(owner, l -> reservation.get());
      LOG.info("{} keeps its reservation (IOMMU groups {})", owner, lease.groupNumbers());
      return;
    }
    timed(owner, ProvisionStep.RELEASE, Optional.empty(), () -> ledger.release(owner),
        r -> "lease released");
  }

  /** Teardown rollback: every device back on VFIO, the partition active, the lease BOUND. */
  private void rebind(Lease lease) {
    if (lease.partitionId().isPresent()) {
      int id = lease.partitionId().getAsInt();
      if (!partitionActive(id)) {
        fabricManager().activate(id);
      }
    }
    clearOverridesLeftByRestore(lease);
    binder.bind(bindRequest(lease, new Flow(lease.origin(), vfioDriver, false,
        Optional.empty())));
    ledger.updateState(lease.owner(), LeaseState.BOUND);
  }

  /**
   * A restore refused half-way (the unbind from VFIO failed) leaves the device on the VFIO driver
   * with {@code driver_override} set to its original driver; binding skips a device already on
   * VFIO, so clear that override here to leave the device exactly as it was while BOUND.
   */
  private void clearOverridesLeftByRestore(Lease lease) {
    for (DeviceBinding b : bindings(lease)) {
      PciAddress a = b.address();
      if (b.boundByGpuvirt() && b.originalDriver().isPresent()
          && binder.driverOf(a).equals(Optional.of(b.driver()))
          && binder.driverOverrideOf(a).equals(b.originalDriver())) {
        sysfs.write(a.sysfsPath("driver_override"), "\n");
      }
    }
  }


  private void deactivateIfActive(int id) {
    if (partitionActive(id)) {
      fabricManager().deactivate(id);
    }
  }

  /**
   * Whether partition {@code id} is active, from the listing; a partition Fabric Manager does not
   * list is an error, never "inactive" (that would leave the lease's real partition active).
   */
  private boolean partitionActive(int id) {
    List<io.gpuvirt.core.fabric.FabricPartition> listing = fabricManager().listPartitions();
    return listing.stream().filter(p -> p.id() == id).findFirst()
        .orElseThrow(() -> new GpuvirtException("Fabric Manager does not list partition " + id
            + " (it lists " + (listing.isEmpty() ? "no partitions at all" : listing.stream()
                .map(p -> String.valueOf(p.id())).collect(java.util.stream.Collectors.joining(
                    ", ", "partitions ", ""))) + "); gpuvirt will not take it for inactive."
            + " Compare 'gpuvirt leases' with 'gpuvirt partitions list'"))
        .active();
  }

  private FabricManager fabricManager() {
    return partitions.orElseThrow(() -> new GpuvirtException("the lease names a Fabric Manager"
        + " partition but this provisioner has no Fabric Manager; build it with"
        + " .partitions(...)")).fabricManager();
  }

  private boolean resettable(PciAddress address) {
    return sysfs.exists(address.sysfsPath("reset"));
  }

  /** The kernel's reset methods for the device ({@code reset_method}, Linux 5.15+), if it says. */
  private List<String> resetMethods(PciAddress address) {
    String path = address.sysfsPath("reset_method");
    if (!sysfs.exists(path)) {
      return List.of();
    }
    String text = sysfs.read(path).strip();
    return text.isEmpty() ? List.of() : List.of(text.split(" +"));
  }

  private void reset(String owner, LeasedDevice d) {
    PciAddress address = d.address();
    timed(owner, ProvisionStep.RESET, Optional.of(address), () -> {
      sysfs.write(address.sysfsPath("reset"), "1");
      return address;
    }, a -> "function reset (" + d.reset().get() + ")");
  }

  /** Reads back each device's driver link (cheap: no full scan) and the partition's state. */
  private void verify(Lease lease) {
    verifyDrivers(lease);
    if (lease.partitionId().isPresent() && !partitionActive(lease.partitionId().getAsInt())) {
      throw new GpuvirtException("partition " + lease.partitionId().getAsInt()
          + " is not active after activation; check the Fabric Manager log");
    }
  }

  private void verifyDrivers(Lease lease) {
    for (LeasedDevice d : lease.passedThroughDevices()) {
      Optional<String> now = binder.driverOf(d.address());
      String expected = vfioDriverOf(d);
      if (!now.equals(Optional.of(expected))) {
        throw new BindException(d.address(), BindStep.VERIFY, d.address()
            + " is on " + now.orElse("no driver") + ", not " + expected
            + "; something else changed its driver (check dmesg and other tools that manage PCI"
            + " drivers)", null);
      }
    }
  }

  /**
   * The request that binds a lease's devices: to the driver the lease recorded for them (or the
   * flow's, for a lease recorded before the driver was), with the flags of the caller's request.
   */
  private BindRequest bindRequest(Lease lease, Flow flow) {
    BindRequest.Builder b = flow.template().map(BindRequest::toBuilder)
        .orElseGet(BindRequest::builder).clearDevices().resetBeforeBind(false);
    String driver = lease.passedThroughDevices().stream()
        .map(d -> d.vfioDriver()).flatMap(Optional::stream).findFirst().orElse(flow.driver());
    b.driver(driver);
    for (LeasedDevice d : lease.passedThroughDevices()) {
      b.device(d.address());
      if (d.role() == DeviceRole.ALLOWED_FOREIGN) {
        b.allowForeignDevice(d.address());
      }
    }
    return b.build();
  }

  /**
   * The VFIO driver a lease's device is (to be) on: the one the lease recorded; for a lease of
   * format 1, which did not record it, the VFIO driver the device is on now, else this
   * provisioner's.
   */
  private String vfioDriverOf(LeasedDevice d) {
    return d.vfioDriver().orElseGet(() -> binder.driverOf(d.address())
        .filter(VfioDrivers::isVfioDriver).orElse(vfioDriver));
  }

  /** What teardown and recovery put back, per device: exactly what the lease recorded. */
  private List<DeviceBinding> bindings(Lease lease) {
    List<DeviceBinding> out = new ArrayList<>();
    for (LeasedGroup g : lease.groups()) {
      for (LeasedDevice d : g.devices()) {
        if (d.role().passedThrough()) {
          String driver = vfioDriverOf(d);
          out.add(new DeviceBinding(d.address(), g.number(), d.originalDriver(),
              d.originalOverride(), driver, !d.originalDriver().equals(Optional.of(driver))));
        }
      }
    }
    return out;
  }

  /**
   * The device nodes of the lease's groups as the host shows them now: the group node and, where the
   * kernel exposes {@code vfio-dev/}, the iommufd cdev of each passed-through device (the same
   * answer for a fresh provisioning and for an owner already provisioned).
   */
  private List<VfioGroupNode> nodes(Lease lease) {
    List<VfioGroupNode> out = new ArrayList<>();
    for (LeasedGroup g : lease.groups()) {
      List<String> cdevs = new ArrayList<>();
      for (LeasedDevice d : g.devices()) {
        if (d.role().passedThrough()) {
          cdevs.addAll(binder.iommufdDeviceNodes(d.address()));
        }
      }
      out.add(new VfioGroupNode(g.number(), g.vfioDevicePath(), cdevs));
    }
    return out;
  }

  private static String moduleIdsOf(Lease lease) {
    return lease.requestedDevices().stream().filter(d -> d.moduleId().isPresent())
        .map(d -> String.valueOf(d.moduleId().getAsInt())).sorted().toList().toString();
  }

  private <T> T timed(String owner, ProvisionStep step, Optional<PciAddress> device,
      Supplier<T> work, java.util.function.Function<T, String> describe) {
    long start = System.nanoTime();
    emit(new ProgressEvent(owner, step, ProgressEvent.Kind.STARTED, device, "", Duration.ZERO));
    try {
      T result = work.get();
      emit(new ProgressEvent(owner, step, ProgressEvent.Kind.FINISHED, device,
          describe.apply(result), Duration.ofNanos(System.nanoTime() - start)));
      return result;
    } catch (RuntimeException e) {
      emit(new ProgressEvent(owner, step, ProgressEvent.Kind.FAILED, device,
          e.getMessage() == null ? e.toString() : e.getMessage(),
          Duration.ofNanos(System.nanoTime() - start)));
      throw e;
    }
  }

  private void emit(ProgressEvent event) {
    LOG.debug("{} {}", event.owner(), event);
    try {
      listener.onEvent(event);
    } catch (RuntimeException e) {
      LOG.warn("progress listener failed on {}: {}", event, e.toString());
    }
  }

  /** Builds {@link Provisioner}s. */
  public static final class Builder {
    private final Sysfs sysfs;
    private final LeaseLedger ledger;
    private Optional<PartitionContext> partitions = Optional.empty();
    private Optional<String> vfioDriver = Optional.empty();
    private VfioDriverRule driverRule = VfioDriverRule.standard();
    private boolean resetBeforeBind = true;
    private GpuDriverPolicy driverPolicy = GpuDriverPolicy.REBIND_PER_VM;
    private Duration reservationTimeout = DEFAULT_RESERVATION_TIMEOUT;
    private ProgressListener listener = ProgressListener.NONE;
    private Optional<VmPlanner> vmPlanner = Optional.empty();
    private Optional<VgpuProvisioner> vgpuProvisioner = Optional.empty();
    private boolean fabricVgpuMode;

    private Builder(Sysfs sysfs, LeaseLedger ledger) {
      this.sysfs = Objects.requireNonNull(sysfs, "sysfs");
      this.ledger = Objects.requireNonNull(ledger, "ledger");
    }

    /**
     * The vGPU provisioner {@link Provisioner#teardown} hands vGPU leases to (on the same ledger);
     * by default one over this sysfs with no programs and no Fabric Manager, which refuses a lease
     * that uses a partition (Fabric Manager vGPU mode), so give the host's there.
     */
    public Builder vgpuProvisioner(VgpuProvisioner value) {
      this.vgpuProvisioner = Optional.of(Objects.requireNonNull(value, "vgpuProvisioner"));
      return this;
    }

    /**
     * The host's Fabric Manager runs in vGPU mode ({@code FABRIC_MODE=2}): {@link #provision}
     * refuses requests for whole NVIDIA GPUs, whose NVLink fabric Fabric Manager sets up there
     * only for vGPUs (partitions activated with VF lists). {@link #bind} and other devices are
     * not affected. {@code GpuHost.provisionerBuilder()} sets it on such a host.
     */
    public Builder fabricVgpuMode() {
      this.fabricVgpuMode = true;
      return this;
    }

    /** Shared NVSwitch mode: allocate whole Fabric Manager partitions and activate them. */
    public Builder partitions(PartitionContext context) {
      this.partitions = Optional.of(Objects.requireNonNull(context, "partitions"));
      return this;
    }

    /**
     * One VFIO driver for every device, whatever its id (overrides {@link #vfioDriverRule}).
     * Without it each lease's GPUs go to the driver the rule picks for them.
     */
    public Builder vfioDriver(String driver) {
      this.vfioDriver = Optional.of(BindRequest.checkDriverName(driver));
      return this;
    }

    /**
     * The rule that picks the VFIO driver by GPU id (default {@link VfioDriverRule#standard()}:
     * {@code nvgrace_gpu_vfio_pci} for Grace-attached GPUs, {@code vfio-pci} otherwise).
     */
    public Builder vfioDriverRule(VfioDriverRule rule) {
      this.driverRule = Objects.requireNonNull(rule, "vfioDriverRule");
      this.vfioDriver = Optional.empty();
      return this;
    }

    /** Whether to function-reset each requested GPU on its host driver first (default true). */
    public Builder resetBeforeBind(boolean value) {
      this.resetBeforeBind = value;
      return this;
    }

    /**
     * Where the host's GPUs sit between tenants (default {@link GpuDriverPolicy#REBIND_PER_VM}: on
     * their host driver, so a device on a VFIO driver without a lease is in use outside gpuvirt and
     * never allocated). {@link GpuDriverPolicy#STATIC_VFIO}: the host binds them to VFIO at boot,
     * so such a device is free, and teardown leaves it on VFIO. Not for shared NVSwitch mode, where
     * Fabric Manager needs the GPUs on their NVIDIA driver between tenants.
     */
    public Builder gpuDriverPolicy(GpuDriverPolicy value) {
      this.driverPolicy = Objects.requireNonNull(value, "gpuDriverPolicy");
      return this;
    }

    /**
     * How long the reservation provisioning makes on its way lasts (default
     * {@link #DEFAULT_RESERVATION_TIMEOUT}): if the provisioning process dies right after
     * allocating, {@link #recover()} and the next allocation reclaim the devices once it passes. A
     * reservation made beforehand ({@code LeaseLedger.allocate}) keeps its own lifetime.
     */
    public Builder reservationTimeout(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new InvalidValueException("the reservation timeout must be positive, was " + value);
      }
      this.reservationTimeout = value;
      return this;
    }

    /** Receives progress events. */
    public Builder listener(ProgressListener value) {
      this.listener = Objects.requireNonNull(value, "listener");
      return this;
    }

    /**
     * Plans each provisioned VM (step {@link ProvisionStep#PLAN}) before the host is changed; the
     * plan comes back in {@link Provisioned#plan()}, and a lease that cannot be planned is
     * released with nothing changed. Default: none (no plan). Manual bindings are not planned.
     */
    public Builder vmPlanner(VmPlanner value) {
      this.vmPlanner = Optional.of(Objects.requireNonNull(value, "vmPlanner"));
      return this;
    }

    public Provisioner build() {
      if (partitions.isPresent() && driverPolicy == GpuDriverPolicy.STATIC_VFIO) {
        throw new InvalidValueException("a provisioner in shared NVSwitch mode (partitions) cannot"
            + " use the STATIC_VFIO GPU driver policy: Fabric Manager needs the GPUs on their"
            + " NVIDIA driver between tenants");
      }
      return new Provisioner(this);
    }
  }
}
