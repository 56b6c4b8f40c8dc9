package io.gpuvirt.core.ledger;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

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
 */
public record AllocationOptions(LeaseOrigin origin, GpuDriverPolicy driverPolicy,
    Optional<PartitionContext> partitions, Optional<Duration> lifetime) {

  public AllocationOptions {
    Objects.requireNonNull(origin, "origin");
    Objects.requireNonNull(driverPolicy, "driverPolicy");
    Objects.requireNonNull(partitions, "partitions");
    Objects.requireNonNull(lifetime, "lifetime");
    if (lifetime.isPresent() && (lifetime.get().isNegative() || lifetime.get().isZero())) {
      throw new InvalidValueException("a reservation lifetime must be positive, was "
          + lifetime.get());
    }
  }

  /** Provisioning's lease, whole groups, GPUs rebound per VM, no deadline. */
  public static AllocationOptions defaults() {
    return new AllocationOptions(LeaseOrigin.PROVISION, GpuDriverPolicy.REBIND_PER_VM,
        Optional.empty(), Optional.empty());
  }

  public AllocationOptions withOrigin(LeaseOrigin value) {
    return new AllocationOptions(value, driverPolicy, partitions, lifetime);
  }

  public AllocationOptions withDriverPolicy(GpuDriverPolicy value) {
    return new AllocationOptions(origin, value, partitions, lifetime);
  }

  public AllocationOptions withPartitions(PartitionContext value) {
    return new AllocationOptions(origin, driverPolicy, Optional.of(value), lifetime);
  }

  public AllocationOptions withLifetime(Duration value) {
    return new AllocationOptions(origin, driverPolicy, partitions, Optional.of(value));
  }
}
