package io.gpuvirt.core.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.InvalidPciAddressException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

final class DeviceSelectorTest {

  @ParameterizedTest
  @ValueSource(strings = {"gpu", "10de:2901", "class:0302", "0000:17:00.0,0000:3d:00.0"})
  void parse_textForm_readsBackToTheSameText(String text) {
    assertEquals(text, DeviceSelector.parse(text).toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "10de", "10de:29011", "class:3", "nvidia", "10de:2901 "})
  void parse_garbage_failsSayingWhatIsExpected(String text) {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> DeviceSelector.parse(text));

    assertTrue(e.getMessage().contains("expected"), e.getMessage());
  }

  @Test
  void parse_badAddressInList_failsAsAnInvalidAddress() {
    assertThrows(InvalidPciAddressException.class,
        () -> DeviceSelector.parse("0000:17:00.0,../etc"));
  }

  @Test
  void anyGpu_neverMatchesABridge() {
    Topology host = TestHosts.hgxB200();
    PciDevice rootPort = host.require(PciAddress.parse("0000:14:02.0"));
    PciDevice bridgeWithGpuClass = rootPort.toBuilder()
        .pciClass(new io.gpuvirt.core.pci.PciClass(0x030200)).build();

    assertFalse(DeviceSelector.anyGpu().matches(bridgeWithGpuClass));
  }

  @Test
  void byClass_matchesBaseAndSubclass() {
    PciDevice gpu = TestHosts.hgxB200().require(PciAddress.parse("0000:17:00.0"));

    assertTrue(DeviceSelector.parse("class:0302").matches(gpu));
  }
}
