package io.gpuvirt.core.mig;

import java.util.Objects;

/**
 * The MIG mode of one GPU, as NVML's {@code nvmlDeviceGetMigMode} and {@code nvidia-smi -q}
 * ("MIG Mode / Current / Pending") report it: a change is pending until the GPU is reset (or the
 * host rebooted where the reset is not supported).
 *
 * @param current the mode in effect now
 * @param pending the mode after the next GPU reset; equal to {@code current} when nothing is pending
 */
public record MigMode(State current, State pending) {
  /** One MIG mode value. */
  public enum State {
    /** MIG is off: the GPU is one device. */
    DISABLED,
    /** MIG is on: the GPU is split into GPU instances. */
    ENABLED
  }

  /** MIG off, nothing pending. */
  public static final MigMode DISABLED = new MigMode(State.DISABLED, State.DISABLED);
  /** MIG on, nothing pending. */
  public static final MigMode ENABLED = new MigMode(State.ENABLED, State.ENABLED);

  /** Validates that both states are given. */
  public MigMode {
    Objects.requireNonNull(current, "current");
    Objects.requireNonNull(pending, "pending");
  }

  /** Whether a mode change waits for a GPU reset. */
  public boolean changePending() {
    return current != pending;
  }

  /** Whether MIG is in effect now. */
  public boolean enabled() {
    return current == State.ENABLED;
  }
}
