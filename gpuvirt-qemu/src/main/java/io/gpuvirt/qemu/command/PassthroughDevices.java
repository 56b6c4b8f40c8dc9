package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Everything one VM gets passed through: its units (each behind its own root port) and, for the
 * GPUs of one NVSwitch partition, an optional GPUDirect clique id.
 *
 * <pre>{@code
 * PassthroughDevices vm = PassthroughDevices.builder()
 *     .add(PassthroughUnit.gpu(gpu0))
 *     .add(PassthroughUnit.gpu(gpu1))
 *     .gpudirectClique(0)
 *     .build();
 * }</pre>
 *
 * @param units the units in guest order (root port 0 holds the first)
 * @param gpudirectClique the GPUDirect P2P clique id (0 to 15) given to every GPU, if any
 */
public record PassthroughDevices(List<PassthroughUnit> units, OptionalInt gpudirectClique) {

  public PassthroughDevices {
    units = List.copyOf(units);
    Objects.requireNonNull(gpudirectClique, "gpudirectClique");
    if (units.isEmpty()) {
      throw new InvalidValueException("no devices to pass through; add at least one unit");
    }
    Set<PciAddress> seen = new HashSet<>();
    for (PassthroughUnit u : units) {
      for (PciDevice d : u.functions()) {
        if (!seen.add(d.address())) {
          throw new InvalidValueException("device " + d.address()
              + " appears in more than one unit; a host function can be passed through once");
        }
      }
    }
    if (gpudirectClique.isPresent()) {
      int c = gpudirectClique.getAsInt();
      if (c < 0 || c > 15) {
        throw new InvalidValueException("GPUDirect clique id must be 0..15, was " + c);
      }
      if (units.stream().noneMatch(u -> u.role() == PassthroughUnit.Role.GPU)) {
        throw new InvalidValueException("GPUDirect clique " + c
            + " given but no unit is a GPU; the clique applies to GPUs only");
      }
    }
  }

  /** The devices of these units, without a clique. */
  public static PassthroughDevices of(List<PassthroughUnit> units) {
    return new PassthroughDevices(units, OptionalInt.empty());
  }

  /** A builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** The GPU units. */
  public List<PassthroughUnit> gpus() {
    return units.stream().filter(u -> u.role() == PassthroughUnit.Role.GPU).toList();
  }

  /** Builds {@link PassthroughDevices}. */
  public static final class Builder {
    private final List<PassthroughUnit> units = new ArrayList<>();
    private OptionalInt clique = OptionalInt.empty();

    private Builder() {}

    /** Adds a unit; it gets the next root port. */
    public Builder add(PassthroughUnit unit) {
      units.add(Objects.requireNonNull(unit, "unit"));
      return this;
    }

    /** Adds units in order. */
    public Builder addAll(List<PassthroughUnit> more) {
      more.forEach(this::add);
      return this;
    }

    /** Gives every GPU the GPUDirect clique id (0 to 15), for the GPUs of one partition. */
    public Builder gpudirectClique(int id) {
      this.clique = OptionalInt.of(id);
      return this;
    }

    public PassthroughDevices build() {
      return new PassthroughDevices(units, clique);
    }
  }
}
