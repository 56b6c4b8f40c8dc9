package io.gpuvirt.core.ledger;

import java.util.Objects;
import java.util.Optional;

/**
 * One difference between the lease ledger and the host.
 *
 * @param kind what differs
 * @param subject the device address, partition id or owner it concerns
 * @param owner the lease concerned, if any
 * @param detail what was found and the fix
 * @param repaired whether {@code reconcile} repaired it under its policy
 */
public record Discrepancy(Kind kind, String subject, Optional<String> owner, String detail,
    boolean repaired) {

  public Discrepancy {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(detail, "detail");
  }

  /** The kinds of difference. */
  public enum Kind {
    /** A GPU is bound to a VFIO driver but no lease holds it (never repaired: not unbound). */
    UNLEASED_VFIO_DEVICE,
    /** A leased device is no longer on the host, or is another device now (repair: drop the lease). */
    LEASED_DEVICE_MISSING,
    /** A leased group's members changed (repair: drop the lease). */
    LEASED_GROUP_CHANGED,
    /** A {@code BOUND} lease's device is not on a VFIO driver (repair: drop the lease). */
    LEASED_DEVICE_NOT_ON_VFIO,
    /** A Fabric Manager partition is active but no lease holds it (repair: deactivate it). */
    UNLEASED_ACTIVE_PARTITION,
    /** A {@code BOUND} lease's partition is not active (reported only). */
    LEASED_PARTITION_INACTIVE,
    /**
     * A lease names a partition Fabric Manager does not list (reported only; teardown of the lease
     * stops until it is resolved).
     */
    LEASED_PARTITION_UNKNOWN,
    /**
     * A lease's devices are not the GPUs of its partition by module id (reported only; teardown
     * stops).
     */
    LEASED_PARTITION_MISMATCH,
    /**
     * Fabric Manager's listing contradicts itself: a partition id listed twice, or active
     * partitions sharing a GPU (reported only; allocation and teardown of partitions stop).
     */
    FABRIC_LISTING_INCONSISTENT,
    /**
     * The module-id map does not fit the host: a module mapped to a device that is not one of its
     * GPUs, or a GPU without a module id (reported only; partition allocation stops).
     */
    MODULE_ID_MAP_INVALID,
    /**
     * A lease is in a provisioning or teardown journal state: the operation was interrupted (never
     * repaired by reconcile: {@code Provisioner.recover()} finishes or undoes it).
     */
    INTERRUPTED_OPERATION
  }

  /** One line for logs and the CLI. */
  @Override
  public String toString() {
    return kind + " " + subject + owner.map(o -> " (lease " + o + ")").orElse("") + ": " + detail
        + (repaired ? " [repaired]" : "");
  }
}
