package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * The guest CPU's physical address width: the host's ({@code host-phys-bits=on}, optionally
 * capped with {@code host-phys-bits-limit}) or a fixed number ({@code phys-bits}).
 *
 * <p>Firmware places the 64-bit MMIO aperture by this width; a named CPU model without either
 * setting claims 40 bits (1 TiB), too little for four B200s. Cap it at the host IOMMU's address
 * width when that is smaller than the CPU's, or BARs placed above it fail with {@code vfio: DMA
 * mapping failed}.
 *
 * @param mode the host's width or a fixed one
 * @param bits the cap (HOST) or the width (FIXED); 32 to 52
 */
public record PhysBits(Mode mode, OptionalInt bits) {

  /** Where the width comes from. */
  public enum Mode {
    /** The host CPU's width, {@code host-phys-bits=on}. */
    HOST,
    /** A fixed width, {@code phys-bits=N}. */
    FIXED
  }

  public PhysBits {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(bits, "bits");
    if (mode == Mode.FIXED && bits.isEmpty()) {
      throw new InvalidValueException("a fixed physical address width needs its bits");
    }
    if (bits.isPresent() && (bits.getAsInt() < 32 || bits.getAsInt() > 52)) {
      throw new InvalidValueException("physical address bits must be 32..52, was "
          + bits.getAsInt());
    }
  }

  /** The host CPU's width ({@code host-phys-bits=on}). */
  public static PhysBits host() {
    return new PhysBits(Mode.HOST, OptionalInt.empty());
  }

  /** The host CPU's width capped at {@code limit} (the host IOMMU's address width, say). */
  public static PhysBits hostLimitedTo(int limit) {
    return new PhysBits(Mode.HOST, OptionalInt.of(limit));
  }

  /** A fixed width ({@code phys-bits=N}). */
  public static PhysBits fixed(int bits) {
    return new PhysBits(Mode.FIXED, OptionalInt.of(bits));
  }
}
