package io.gpuvirt.core.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class HostPathsTest {

  @ParameterizedTest
  @ValueSource(strings = {"/", "/sys", "/sys/bus/pci/devices/0000:17:00.0/vendor", "/sys/bus/"})
  void check_wellFormedPath_isReturnedUnchanged(String path) {
    assertEquals(path, HostPaths.check(path));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "sys/bus", "./sys", "/sys/../etc", "/sys/..", "/..", "/sys/./bus",
      "/sys//bus", "//sys", "/sys/bus\n", "/sys\r/bus", "/sys\u0000/bus", "/sys\\bus",
      "/sys/bus//", "~/sys"})
  void check_malformedPath_isRefused(String path) {
    assertThrows(IllegalHostPathException.class, () -> HostPaths.check(path));
  }

  @Test
  void check_null_isRefused() {
    assertThrows(IllegalHostPathException.class, () -> HostPaths.check(null));
  }

  @Test
  void check_refusal_namesThePathWithTheNewlineEscaped() {
    IllegalHostPathException e =
        assertThrows(IllegalHostPathException.class, () -> HostPaths.check("/sys/x\n/../etc"));
    assertTrue(e.getMessage().startsWith("refusing host path '/sys/x\\n/../etc'"), e.getMessage());
  }

  @Test
  void join_nameSegment_isAppended() {
    assertEquals("/sys/bus/pci/drivers/vfio-pci", HostPaths.join("/sys/bus/pci/drivers/", "vfio-pci"));
  }

  @Test
  void join_nestedName_isAppended() {
    assertEquals("/sys/bus/pci/devices/0000:17:00.0/driver/unbind",
        HostPaths.join("/sys/bus/pci/devices/0000:17:00.0", "driver/unbind"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"..", ".", "", "/", "/etc", "../../etc/shadow", "a/../..", "x\n",
      "a\\b"})
  void join_nameThatEscapesOrIsEmpty_isRefused(String name) {
    assertThrows(IllegalHostPathException.class, () -> HostPaths.join("/sys/bus/pci/drivers", name));
  }
}
