package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;

/**
 * Where a GPU instance sits in the GPU's memory slices, as {@code nvidia-smi mig -lgi} prints it
 * ({@code Start:Size}, e.g. {@code 4:4}) and NVML's {@code nvmlGpuInstancePlacement_t} holds it.
 *
 * @param start the first memory slice, 0-based
 * @param size the number of memory slices, at least 1
 */
public record MigPlacement(int start, int size) {
  /** Validates the slice range. */
  public MigPlacement {
    if (start < 0 || start > 63) {
      throw new InvalidValueException(
          "MIG placement start " + start + " is out of range; expected a memory slice 0..63");
    }
    if (size < 1 || start + size > 64) {
      throw new InvalidValueException(
          "MIG placement size " + size + " at start " + start + " is out of range; expected 1.."
              + (64 - start));
    }
  }

  /** Parses {@code start:size} as {@code nvidia-smi mig -lgi} prints it. */
  public static MigPlacement parse(String text) {
    String t = text.strip();
    int colon = t.indexOf(':');
    if (colon <= 0 || colon == t.length() - 1) {
      throw new InvalidValueException(
          "MIG placement '" + text + "' is not of the form start:size (e.g. 4:4)");
    }
    try {
      return new MigPlacement(
          Integer.parseInt(t.substring(0, colon)), Integer.parseInt(t.substring(colon + 1)));
    } catch (NumberFormatException e) {
      throw new InvalidValueException(
          "MIG placement '" + text + "' is not of the form start:size (e.g. 4:4)", e);
    }
  }

  /** The slice after the last one this placement covers. */
  public int end() {
    return start + size;
  }

  /** The memory slices as a bit mask (bit i = slice i). */
  public long mask() {
    return ((1L << size) - 1) << start;
  }

  /** Whether the two placements share a memory slice. */
  public boolean overlaps(MigPlacement other) {
    return (mask() & other.mask()) != 0;
  }

  /** {@code start:size}, as {@code nvidia-smi mig -lgi} prints it. */
  @Override
  public String toString() {
    return start + ":" + size;
  }
}
