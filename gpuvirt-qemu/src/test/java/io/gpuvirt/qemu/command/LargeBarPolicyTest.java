package io.gpuvirt.qemu.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.qemu.QemuVersion;
import org.junit.jupiter.api.Test;

final class LargeBarPolicyTest {

  @Test
  void defaults_areTheDocumentedOnes() {
    LargeBarPolicy p = LargeBarPolicy.defaults();
    assertEquals(new LargeBarPolicy(LargeBarPolicy.NoMmapMode.AUTO, QemuVersion.of(10, 1, 0),
        1L << 40, 32L << 30, false, 512L << 30, 32L << 30, 1L << 30), p);
  }

  @Test
  void toBuilder_changesOnlyWhatIsSet() {
    LargeBarPolicy p = LargeBarPolicy.defaults().toBuilder().romBarOff(true).build();
    assertEquals(LargeBarPolicy.defaults().noMmapBelowVersion(), p.noMmapBelowVersion());
  }

  @Test
  void build_negativeTotalIsRefusedNamingTheField() {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> LargeBarPolicy.defaults().toBuilder().noMmapMinTotalBarBytes(-1).build());
    assertTrue(e.getMessage().contains("noMmapMinTotalBarBytes"), e.getMessage());
  }

  @Test
  void build_reserveThatIsNotWholeMiBIsRefused() {
    assertThrows(InvalidValueException.class,
        () -> LargeBarPolicy.defaults().toBuilder().hotplugPref64ReserveBytes(4096).build());
  }

  @Test
  void build_missingVersionIsRefused() {
    assertThrows(NullPointerException.class,
        () -> LargeBarPolicy.defaults().toBuilder().noMmapBelowVersion(null).build());
  }
}
