package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;

/**
 * The buses behind a bridge: its secondary and subordinate bus numbers.
 *
 * @param secondary the bus directly behind the bridge
 * @param subordinate the highest bus number behind the bridge
 */
public record BusRange(int secondary, int subordinate) {
  public BusRange {
    if (secondary < 0 || secondary > 0xff || subordinate < secondary || subordinate > 0xff) {
      throw new InvalidValueException("invalid bridge bus range " + secondary + "-" + subordinate);
    }
  }

  /** Whether {@code bus} lies behind the bridge. */
  public boolean contains(int bus) {
    return bus >= secondary && bus <= subordinate;
  }

  /** {@code [15-1a]} or {@code [17]}, as lspci -t prints it. */
  @Override
  public String toString() {
    return secondary == subordinate ? String.format("[%02x]", secondary)
        : String.format("[%02x-%02x]", secondary, subordinate);
  }
}
