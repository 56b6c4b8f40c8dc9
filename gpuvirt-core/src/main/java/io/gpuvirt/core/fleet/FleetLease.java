package io.gpuvirt.core.fleet;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * A fleet lease: which host holds {@code owner}'s GPUs, which ones, and the epoch (fencing token)
 * the host agent must present to act on it. A lease released and allocated again, on any host,
 * gets a new, higher epoch.
 *
 * @param partitionId the Fabric Manager partition, on a shared-NVSwitch host
 * @param gpus sorted by address
 */
public record FleetLease(String owner, String host, long epoch, int gpuCount,
    OptionalInt partitionId, List<InventoryGpu> gpus, State state, Instant createdAt) {

  /** How far the host agent got with the lease. */
  public enum State {
    /** Chosen by the fleet; the host agent has not provisioned it yet. */
    ASSIGNED,
    /** The host agent reported its devices provisioned. */
    PROVISIONED,
    /** The host agent reported that provisioning failed (the GPUs stay leased until released). */
    FAILED
  }

  public FleetLease {
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(partitionId, "partitionId");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(createdAt, "createdAt");
    gpus = List.copyOf(gpus);
  }
}
