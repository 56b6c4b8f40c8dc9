package io.gpuvirt.core.fleet;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host side of a fleet: one host's agent makes the host's devices match what the fleet
 * assigned to it, fenced by each lease's epoch.
 *
 * <pre>{@code
 * FleetAgent agent = FleetAgent.builder(fleet, "gpu-17", gpuHost.provisioner(), gpuHost.ledger())
 *     .heartbeat(Duration.ofSeconds(30))
 *     .build();
 * while (running) {
 *   FleetAgent.Round round = agent.reconcile();   // provisions new leases, tears down ended ones
 *   round.provisioned().forEach(p -> startVm(p)); // the VM plans of what was provisioned now
 *   Thread.sleep(10_000);
 * }
 * }</pre>
 *
 * <p>One {@link #reconcile} round: beat; read the host's assignments; tear down every local
 * whole-GPU lease the fleet no longer assigns here, or assigns with other GPUs (released, or moved
 * to another host while this one was away); then for each assignment not yet on the host,
 * {@linkplain Fleet#fence check its epoch}, provision exactly the GPUs the fleet chose (and on a
 * shared-NVSwitch host the partition they form) and {@linkplain Fleet#report report} it
 * provisioned, or failed with the reason. Rounds are idempotent: a round after a crash, a lost
 * connection or a failed report finishes what the last one left.
 *
 * <p><b>Ownership on a fleet host.</b> The agent owns every whole-GPU lease of origin
 * {@link LeaseOrigin#PROVISION} in the host's ledger: provision on a fleet host only through the
 * fleet, or the agent tears the lease down as unknown. Manual bindings ({@link LeaseOrigin#BIND}),
 * vGPU and MIG leases are never touched. Release a lease in the fleet only after its VM has
 * stopped: the agent then gives the devices back to their drivers.
 *
 * <p><b>Database unreachable.</b> A round that cannot read the assignments changes nothing on the
 * host: what it holds keeps running, and the next round that reaches the database reconciles.
 *
 * <p><b>Stale epochs.</b> An agent never acts on a lease it only remembers: it provisions after a
 * fence that proves the epoch is still this host's, and if the report afterwards finds the lease
 * moved, it tears its copy down again.
 */
public final class FleetAgent {
  private static final Logger LOG = LoggerFactory.getLogger(FleetAgent.class);

  private final Fleet fleet;
  private final String host;
  private final Provisioner provisioner;
  private final LeaseLedger ledger;
  private final Duration heartbeat;

  private FleetAgent(Builder b) {
    this.fleet = b.fleet;
    this.host = b.host;
    this.provisioner = b.provisioner;
    this.ledger = b.ledger;
    this.heartbeat = b.heartbeat;
  }

  /**
   * A builder for {@code host}'s agent, which provisions through {@code provisioner} and reads
   * the host's leases from {@code ledger} (the provisioner's own ledger).
   */
  public static Builder builder(Fleet fleet, String host, Provisioner provisioner,
      LeaseLedger ledger) {
    return new Builder(fleet, host, provisioner, ledger);
  }

  /** The host this agent acts for. */
  public String host() {
    return host;
  }

  /**
   * Runs one round (see the class comment).
   *
   * @return what the round did; {@link Round#reachable()} is false when the fleet database could
   *     not be read and nothing was changed
   * @throws HostNotRegisteredException when the host was never published: register it first
   */
  public Round reconcile() {
    List<FleetLease> assigned;
    try {
      fleet.heartbeat(host, heartbeat);
      assigned = fleet.assignments(host);
    } catch (HostNotRegisteredException e) {
      throw e;
    } catch (FleetException e) {
      LOG.warn("{}: the fleet database is unreachable; keeping the {} leases held here: {}",
          host, wholeGpuLeases().size(), e.getMessage());
      return Round.unreachable(host, e.getMessage());
    }
    Map<String, FleetLease> byOwner = new TreeMap<>();
    assigned.forEach(l -> byOwner.put(l.owner(), l));
    Round.Builder round = new Round.Builder(host);
    if (ledger.leases().stream().anyMatch(l -> l.state().inFlight())) {
      // a crash interrupted a provisioning or teardown here: finish or undo it first
      provisioner.recover();
    }

    for (Lease local : wholeGpuLeases()) {
      FleetLease wanted = byOwner.get(local.owner());
      if (wanted == null || !gpus(local).equals(gpus(wanted))) {
        String why = wanted == null ? "the fleet no longer assigns it to " + host
            : "the fleet assigns it other GPUs (" + gpus(wanted) + ") with epoch "
                + wanted.epoch();
        tearDown(local.owner(), why, round);
      }
    }

    for (FleetLease wanted : byOwner.values()) {
      Optional<Lease> local = ledger.lease(wanted.owner());
      if (local.isPresent() && local.get().state() == LeaseState.BOUND
          && gpus(local.get()).equals(gpus(wanted))) {
        if (wanted.state() == FleetLease.State.PROVISIONED) {
          round.unchanged.add(wanted.owner());
        } else {
          // provisioned by an earlier round whose report did not arrive
          reportProvisioned(wanted, round, Optional.empty());
        }
        continue;
      }
      if (local.isPresent() && !isWholeGpu(local.get())) {
        // a lease of another kind (a manual bind, a vGPU) under the same owner id
        fail(wanted, "the owner already holds a " + local.get().origin() + " lease on " + host
            + " that is not this assignment; end it there, then release and allocate again",
            round);
        continue;
      }
      if (wanted.state() == FleetLease.State.FAILED) {
        round.failed.put(wanted.owner(), "failed earlier; release it and allocate again");
        continue;
      }
      provision(wanted, round);
    }
    return round.build();
  }

  private void provision(FleetLease wanted, Round.Builder round) {
    try {
      fleet.fence(host, wanted.owner(), wanted.epoch());
    } catch (StaleEpochException e) {
      round.skipped.put(wanted.owner(), e.getMessage());
      return;
    } catch (FleetException e) {
      round.skipped.put(wanted.owner(), "the fleet database became unreachable: "
          + e.getMessage());
      return;
    }
    Provisioned done;
    try {
      done = provisioner.provision(AllocationRequest.builder(wanted.owner())
          .count(wanted.gpuCount())
          .selector(DeviceSelector.addresses(gpus(wanted)))
          .build());
    } catch (GpuvirtException e) {
      fail(wanted, "provisioning on " + host + " failed: " + e.getMessage(), round);
      return;
    }
    if (!gpus(done.lease()).equals(gpus(wanted))
        || !done.lease().partitionId().equals(wanted.partitionId())) {
      String why = "provisioning on " + host + " chose " + gpus(done.lease())
          + done.lease().partitionId().stream().mapToObj(p -> " (partition " + p + ")")
              .collect(Collectors.joining()) + " instead of the fleet's " + gpus(wanted)
          + wanted.partitionId().stream().mapToObj(p -> " (partition " + p + ")")
              .collect(Collectors.joining())
          + ": the published inventory is out of date; re-register the host";
      tearDown(wanted.owner(), why, round);
      fail(wanted, why, round);
      return;
    }
    reportProvisioned(wanted, round, Optional.of(done));
  }

  private void reportProvisioned(FleetLease wanted, Round.Builder round,
      Optional<Provisioned> done) {
    try {
      fleet.report(host, wanted.owner(), wanted.epoch(), FleetLease.State.PROVISIONED);
      round.provisionedOwners.add(wanted.owner());
      done.ifPresent(round.provisioned::add);
    } catch (StaleEpochException e) {
      // the lease moved while it was being provisioned: give the devices back
      tearDown(wanted.owner(), e.getMessage(), round);
    } catch (FleetException e) {
      // provisioned, not reported: the next round reports it
      round.skipped.put(wanted.owner(), "provisioned, but the report did not reach the fleet "
          + "database (the next round sends it): " + e.getMessage());
      done.ifPresent(round.provisioned::add);
    }
  }

  private void fail(FleetLease wanted, String why, Round.Builder round) {
    round.failed.put(wanted.owner(), why);
    try {
      fleet.report(host, wanted.owner(), wanted.epoch(), FleetLease.State.FAILED);
    } catch (FleetException e) {
      LOG.warn("{}: could not report the failure of {}: {}", host, wanted.owner(),
          e.getMessage());
    }
  }

  private void tearDown(String owner, String why, Round.Builder round) {
    try {
      provisioner.teardown(owner);
      round.tornDown.put(owner, why);
    } catch (GpuvirtException e) {
      round.failed.put(owner, "tearing down (" + why + ") failed: " + e.getMessage());
    }
  }

  private List<Lease> wholeGpuLeases() {
    return ledger.leases().stream().filter(FleetAgent::isWholeGpu).toList();
  }

  private static boolean isWholeGpu(Lease lease) {
    return lease.origin() == LeaseOrigin.PROVISION && lease.vgpus().isEmpty()
        && lease.migs().isEmpty();
  }

  private static SortedSet<PciAddress> gpus(Lease lease) {
    return lease.requestedDevices().stream().map(LeasedDevice::address)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  private static SortedSet<PciAddress> gpus(FleetLease lease) {
    return lease.gpus().stream().map(InventoryGpu::address)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  /**
   * What one round did.
   *
   * @param reachable whether the fleet database was read; when false nothing was changed
   * @param error why the database could not be read, when it could not
   * @param provisionedOwners the owners provisioned and reported in this round, sorted
   * @param provisioned what was provisioned in this round (the lease and its VM plan), by owner
   * @param tornDown the owners whose local lease was torn down, and why
   * @param failed the owners whose assignment failed here (reported {@code FAILED}), and why
   * @param skipped the owners left for a later round, and why (a stale epoch, a lost connection)
   * @param unchanged the owners already provisioned as assigned, sorted
   */
  public record Round(String host, boolean reachable, Optional<String> error,
      List<String> provisionedOwners, List<Provisioned> provisioned, Map<String, String> tornDown,
      Map<String, String> failed, Map<String, String> skipped, List<String> unchanged) {
    public Round {
      Objects.requireNonNull(host, "host");
      Objects.requireNonNull(error, "error");
      provisionedOwners = List.copyOf(provisionedOwners);
      provisioned = List.copyOf(provisioned);
      tornDown = Collections.unmodifiableMap(new TreeMap<>(tornDown));
      failed = Collections.unmodifiableMap(new TreeMap<>(failed));
      skipped = Collections.unmodifiableMap(new TreeMap<>(skipped));
      unchanged = List.copyOf(unchanged);
    }

    static Round unreachable(String host, String error) {
      return new Round(host, false, Optional.of(error), List.of(), List.of(), Map.of(), Map.of(),
          Map.of(), List.of());
    }

    /** Whether the round changed nothing and left nothing to do. */
    public boolean settled() {
      return reachable && provisionedOwners.isEmpty() && tornDown.isEmpty() && failed.isEmpty()
          && skipped.isEmpty();
    }

    private static final class Builder {
      private final String host;
      private final List<String> provisionedOwners = new ArrayList<>();
      private final List<Provisioned> provisioned = new ArrayList<>();
      private final Map<String, String> tornDown = new TreeMap<>();
      private final Map<String, String> failed = new TreeMap<>();
      private final Map<String, String> skipped = new TreeMap<>();
      private final List<String> unchanged = new ArrayList<>();

      private Builder(String host) {
        this.host = host;
      }

      private Round build() {
        return new Round(host, true, Optional.empty(), provisionedOwners, provisioned, tornDown,
            failed, skipped, unchanged);
      }
    }
  }

  /** Builds {@link FleetAgent}s. */
  public static final class Builder {
    private final Fleet fleet;
    private final String host;
    private final Provisioner provisioner;
    private final LeaseLedger ledger;
    private Duration heartbeat = Duration.ofSeconds(60);

    private Builder(Fleet fleet, String host, Provisioner provisioner, LeaseLedger ledger) {
      this.fleet = Objects.requireNonNull(fleet, "fleet");
      this.host = HostNames.check(host);
      this.provisioner = Objects.requireNonNull(provisioner, "provisioner");
      this.ledger = Objects.requireNonNull(ledger, "ledger");
    }

    /**
     * How long after each round's heartbeat the host stays allocatable (default 60 s): longer
     * than the interval between rounds, or the host drops out between them.
     */
    public Builder heartbeat(Duration value) {
      Objects.requireNonNull(value, "heartbeat");
      if (value.isNegative() || value.isZero()) {
        throw new InvalidValueException("the agent's heartbeat deadline must be positive, was "
            + value);
      }
      this.heartbeat = value;
      return this;
    }

    public FleetAgent build() {
      return new FleetAgent(this);
    }
  }
}
