package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.InvalidValueException;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class PciSizesTest {
  @Test
  void bytes_ofWhatHumanWrites_isTheSizeAgain() {
    long seed = 20261203L;
    RandomGenerator random = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    for (int i = 0; i < 1000; i++) {
      long size = (1L + random.nextInt(1 << 20)) << random.nextInt(40);
      assertEquals(size, PciSizes.bytes(PciSizes.human(size)), "seed " + seed + ", " + size);
    }
  }

  @Test
  void bytes_suffixes_areBinaryUnits() {
    assertEquals(268435456L, PciSizes.bytes("256M"));
    assertEquals(549755813888L, PciSizes.bytes("512G"));
    assertEquals(1L << 50, PciSizes.bytes("1P"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "M", "12X", "-1G", "1.5G", "8192P"})
  void bytes_notASizeOrTooLarge_isRefused(String text) {
    assertThrows(InvalidValueException.class, () -> PciSizes.bytes(text));
  }
}
