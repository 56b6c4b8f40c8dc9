package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

final class SizesTest {

  @Test
  void of_exactUnit() {
    assertEquals("256G", Sizes.of(256L << 30));
  }

  @Test
  void of_mixedUnitsAreSummed() {
    assertEquals("2T+768M", Sizes.of((2L << 40) + (768L << 20)));
  }

  @Test
  void of_bytesKeepNoUnit() {
    assertEquals("1K+5", Sizes.of(1029));
  }
}
