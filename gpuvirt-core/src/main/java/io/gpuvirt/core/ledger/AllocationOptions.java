package io.gpuvirt.core.ledger;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * How {@link LeaseLedger#allocate(io.gpuvirt.core.alloc.AllocationRequest,
 * io.gpuvirt.core.pci.Topology, AllocationOptions)} makes a lease.
 *
 * @param origin which operation the lease is for
 * @param driverPolicy where the host's GPUs sit between tenants (see
 *     {@link GpuDriverPolicy})
 * @param partitions allocate whole Fabric Manager partitions (shared NVSwitch hosts), or groups
 * @param lifetime how long the reservation lasts before recovery and the next allocation reclaim
 *     it; empty: until released
 * @param recordAs how a newly chosen lease is recorded: applied under the ledger's lock to the
 *     lease the allocator chose, in the same commit, so an operation that follows can record its
 *     intent (a journal state, what it will do to each device) with the allocation instead of in
 *     a commit of its own. It may change the lease's state and its devices' recorded facts, not
 *     what the lease holds; an exception records nothing. Not applied to a lease the owner already
 *     holds. Identity by default.
 */
public record AllocationOptions(LeaseOrigin origin, GpuDriverPolicy driverPolicy,
    Optional<PartitionContext> partitions, Optional<Duration> lifetime,
    UnaryOperator<Lease> recordAs) {

  public AllocationOptions {
    Objects.requireNonNull(origin, "origin");
    Objects.requireNonNull(driverPolicy, "driverPolicy");
    Objects.requireNonNull(partitions, "partitions");
    Objects.requireNonNull(lifetime, "lifetime");
    Objects.requireNonNull(recordAs, "recordAs");
    if (lifetime.isPresent() && (lifetime.get().isNegative() || lifetime.get().isZero())) {
      throw new InvalidValueException("a reservation lifetime must be positive, was "
          + lifetime.get());
    }
  }

  /** Provisioning's lease, whole groups, GPUs rebound per VM, no deadline. */
  public static AllocationOptions defaults() {
    return new AllocationOptions(LeaseOrigin.PROVISION, GpuDriverPolicy.REBIND_PER_VM,
        Optional.empty(), Optional.empty(), UnaryOperator.identity());
  }

  public AllocationOptions withOrigin(LeaseOrigin value) {
    return new AllocationOptions(value, driverPolicy, partitions, lifetime, recordAs);
  }

  public AllocationOptions withDriverPolicy(GpuDriverPolicy value) {
    return new AllocationOptions(origin, value, partitions, lifetime, recordAs);
  }

  public AllocationOptions withPartitions(PartitionContext value) {
    return new AllocationOptions(origin, driverPolicy, Optional.of(value), lifetime, recordAs);
  }

  public AllocationOptions withLifetime(Duration value) {
    return new AllocationOptions(origin, driverPolicy, partitions, Optional.of(value), recordAs);
  }

  public AllocationOptions withRecordedAs(UnaryOperator<Lease> value) {
    return new AllocationOptions(origin, driverPolicy, partitions, lifetime, value);
  }
}
