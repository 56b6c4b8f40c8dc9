package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.IllegalHostPathException;
import io.gpuvirt.core.pci.InvalidPciAddressException;
import io.gpuvirt.qemu.QemuException;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The aperture's power-of-two rounding, and where its refusals sit in the exception tree. */
final class CeilingPowerOfTwoTest {
  @Test
  void ceilingPowerOfTwo_edges_roundUp() {
    assertEquals(List.of(1L, 2L, 4L, 4L, 1L << 62),
        List.of(MmioAperture.ceilingPowerOfTwo(1), MmioAperture.ceilingPowerOfTwo(2),
            MmioAperture.ceilingPowerOfTwo(3), MmioAperture.ceilingPowerOfTwo(4),
            MmioAperture.ceilingPowerOfTwo((1L << 61) + 1)));
  }

  @Test
  void ceilingPowerOfTwo_past2To62_overflows() {
    assertThrows(ArithmeticException.class, () -> MmioAperture.ceilingPowerOfTwo((1L << 62) + 1));
  }

  @Test
  void ceilingPowerOfTwo_randomValues_isTheSmallestPowerAtLeastTheValue() {
    long seed = System.nanoTime();
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < 10_000; i++) {
      long x = random.nextLong(1, 1L << 62);
      long p = MmioAperture.ceilingPowerOfTwo(x);
      assertTrue(Long.bitCount(p) == 1 && p >= x && p / 2 < x, "seed " + seed + ", x " + x);
    }
  }

  @Test
  void exceptions_refusalsOfValues_areInvalidValueAndQemuRefusalsAreQemuExceptions() {
    assertTrue(QemuException.class.isAssignableFrom(QemuArgsException.class)
        && InvalidValueException.class.isAssignableFrom(InvalidPciAddressException.class)
        && InvalidValueException.class.isAssignableFrom(IllegalHostPathException.class));
  }
}
