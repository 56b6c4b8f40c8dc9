package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;

/**
 * A populated base address register, as the kernel reports it in the device's {@code resource} file.
 *
 * @param index resource index, 0 to 5 (a 64-bit BAR takes two indexes; the second is not listed)
 * @param start bus address of the region
 * @param size length in bytes (end - start + 1)
 * @param is64Bit whether the BAR is a 64-bit memory BAR
 * @param prefetchable whether the memory is prefetchable
 * @param io whether the BAR is an I/O port region rather than memory
 */
public record Bar(int index, long start, long size, boolean is64Bit, boolean prefetchable,
    boolean io) {

  public Bar {
    if (index < 0 || index > 5) {
      throw new InvalidValueException("BAR index must be 0..5, was " + index);
    }
    if (size <= 0) {
      throw new InvalidValueException("BAR " + index + " size must be positive, was " + size);
    }
    if (io && (is64Bit || prefetchable)) {
      throw new InvalidValueException("BAR " + index + " is I/O and cannot be 64-bit or prefetchable");
    }
  }

  /** The last address of the region (inclusive). */
  public long end() {
    return start + size - 1;
  }

  /** The size the way lspci prints it: {@code 64M}, {@code 256G}, {@code 32K}. */
  public String humanSize() {
    return PciSizes.human(size);
  }
}
