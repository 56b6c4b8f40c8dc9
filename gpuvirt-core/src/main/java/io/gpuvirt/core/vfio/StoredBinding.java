package io.gpuvirt.core.vfio;

import io.gpuvirt.core.InvalidValueException;
import java.util.Objects;

/**
 * One device binding kept in a {@link BindingStore}.
 *
 * @param binding what gpuvirt did (or is about to do) to the device; a device of a bound group that
 *     was already on the VFIO driver is kept too ({@link DeviceBinding#boundByGpuvirt()} false), so
 *     that a later restore of its group knows to leave it there
 * @param phase whether the bind finished
 */
public record StoredBinding(DeviceBinding binding, Phase phase) {
  /** How far the bind of a stored device got. */
  public enum Phase {
    /**
     * Recorded before the bind started and not confirmed since: the process may have died
     * half-way, so the device is put back with {@link VfioBinder#recover}.
     */
    BINDING,
    /** The bind finished; the device is put back with {@link VfioBinder#restore}. */
    BOUND
  }

  public StoredBinding {
    Objects.requireNonNull(binding, "binding");
    Objects.requireNonNull(phase, "phase of " + binding.address());
    if (phase == Phase.BINDING && !binding.boundByGpuvirt()) {
      throw new InvalidValueException("a binding in progress must be one gpuvirt makes; "
          + binding.address() + " was already on " + binding.driver());
    }
  }
}
