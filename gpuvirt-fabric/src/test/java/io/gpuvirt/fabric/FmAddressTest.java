package io.gpuvirt.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.InvalidValueException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class FmAddressTest {
  @Test
  void parse_unixPrefix_isASocket() {
    assertEquals(FmAddress.unixSocket("/run/nvidia-fabricmanager/socket"),
        FmAddress.parse("unix:/run/nvidia-fabricmanager/socket"));
  }

  @Test
  void parse_hostAndPort_isTcp() {
    assertEquals(FmAddress.Kind.TCP, FmAddress.parse("10.0.0.5:7000").kind());
  }

  @Test
  void toString_roundTrips() {
    assertEquals("unix:/run/fm.sock", FmAddress.parse("unix:/run/fm.sock").toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "unix:", "unix:relative/path", "10.0.0.5:", "10.0.0.5:0",
      "10.0.0.5:70000", "10.0.0.5:http", ":6666", "host name", "127.0.0.1\n", "/run/fm.sock"})
  void parse_badAddress_refused(String text) {
    assertThrows(InvalidValueException.class, () -> FmAddress.parse(text));
  }

  @Test
  void parse_tooLongForAddressInfo_refused() {
    assertThrows(InvalidValueException.class, () -> FmAddress.parse("unix:/" + "a".repeat(255)));
  }
}
