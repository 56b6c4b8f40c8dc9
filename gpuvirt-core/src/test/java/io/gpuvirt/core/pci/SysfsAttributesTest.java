package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.SysfsFormatException;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class SysfsAttributesTest {
  private static final String P = "/sys/bus/pci/devices/0000:17:00.0/x";
  private static final String ZERO = "0x0000000000000000 0x0000000000000000 0x0000000000000000";

  @Test
  void hex_kernelFormat_parses() {
    assertEquals(0x10de, SysfsAttributes.hex(P, "0x10de\n", 4));
  }

  @Test
  void hex_classOfSixDigits_parses() {
    assertEquals(0x030200, SysfsAttributes.hex(P, "0x030200\n", 6));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0x10\n", "0x29\n", "0x10DE\n", "0x010de\n", "0x10de"})
  void hex_idNotInTheKernelsWidthOrCase_isRefusedNamingTheFormat(String content) {
    assertRefused(content, 4);
  }

  @ParameterizedTest
  @ValueSource(strings = {"0x0302\n", "0x30200\n", "0x030200", "0x0302000\n"})
  void hex_classNotInTheKernelsWidth_isRefusedNamingTheFormat(String content) {
    assertRefused(content, 6);
  }

  @ParameterizedTest
  @ValueSource(strings = {"0xA1\n", "0x1\n", "0x0a1\n"})
  void hex_revisionNotInTheKernelsWidthOrCase_isRefusedNamingTheFormat(String content) {
    assertRefused(content, 2);
  }

  private static void assertRefused(String content, int digits) {
    SysfsFormatException e = assertThrows(SysfsFormatException.class,
        () -> SysfsAttributes.hex(P, content, digits));
    assertTrue(e.path().equals(P) && e.getMessage().contains("0x%0" + digits + "x"),
        e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "\n", "0x", "10de", "0X10de", "0x10de0", "0x10de\r\n", "0x10de \n",
      "0x10de\n\n", "0x+1", "0x-1", "0x\uff11\uff10", "0x\u0661", "x10de"})
  void hex_badInput_isRefusedNamingTheFile(String content) {
    assertEquals(P, assertThrows(SysfsFormatException.class,
        () -> SysfsAttributes.hex(P, content, 4)).path());
  }

  @Test
  void decimal_minusOne_parses() {
    assertEquals(-1, SysfsAttributes.decimal(P, "-1\n", -1, 100));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "-2", "101", "+1", " 1", "1 ", "0x1", "1e3", "\u0661",
      "99999999999", "-", "1\n2"})
  void decimal_badInput_isRefusedNamingTheFile(String content) {
    assertEquals(P, assertThrows(SysfsFormatException.class,
        () -> SysfsAttributes.decimal(P, content, -1, 100)).path());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "-1", "x", "1 ", "\u0661", "9999999999"})
  void decimalName_badInput_isRefused(String name) {
    assertThrows(SysfsFormatException.class, () -> SysfsAttributes.decimalName(P, name, "group"));
  }

  @Test
  void basename_relativeLink_isItsLastSegment() {
    assertEquals("nvidia", SysfsAttributes.basename(P, "../../../bus/pci/drivers/nvidia"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "/", "../..", "a/."})
  void basename_linkWithoutAName_isRefused(String target) {
    assertThrows(SysfsFormatException.class, () -> SysfsAttributes.basename(P, target));
  }

  @ParameterizedTest
  @ValueSource(strings = {"17:00.0", "0000:1A:00.0", "00000000:17:00.0", "0000:17:00.0\n",
      "..", "0000:17:00.8"})
  void address_nonCanonicalOrInvalidName_isRefused(String name) {
    assertThrows(SysfsFormatException.class, () -> SysfsAttributes.address(P, name));
  }

  @Test
  void resource_gpuLines_giveThreeBarsAtTheirIndexes() {
    String content = String.join("\n",
        "0x0000228000000000 0x0000228003ffffff 0x000000000014220c", ZERO,
        "0x0000220000000000 0x0000223fffffffff 0x000000000014220c", ZERO,
        "0x0000228044000000 0x0000228045ffffff 0x000000000014220c", ZERO,
        "0x00000000fc000000 0x00000000fc07ffff 0x0000000000046200") + "\n";
    assertEquals(List.of("0:64M", "2:256G", "4:32M"), SysfsAttributes.resource(P, content)
        .stream().map(b -> b.index() + ":" + b.humanSize()).toList());
  }

  @Test
  void resource_romAndBridgeWindows_areNotBars() {
    String content = (ZERO + "\n").repeat(6)
        + "0x00000000fc000000 0x00000000fc07ffff 0x0000000000046200\n"
        + (ZERO + "\n").repeat(6)
        + "0x0000000000001000 0x0000000000001fff 0x0000000000000101\n"
        + (ZERO + "\n").repeat(3);
    assertEquals(List.of(), SysfsAttributes.resource(P, content));
  }

  @Test
  void resource_ioFlagsWithMem64Bit_giveAPlainIoBar() {
    String content = "0x0000000000001000 0x000000000000107f 0x0000000000100101\n"
        + (ZERO + "\n").repeat(6);
    assertEquals(List.of(new Bar(0, 0x1000, 0x80, false, false, true)),
        SysfsAttributes.resource(P, content));
  }

  @ParameterizedTest
  @ValueSource(ints = {6, 7, 11, 13, 17})
  void resource_kernelLineCounts_areAccepted(int lines) {
    assertEquals(List.of(), SysfsAttributes.resource(P, (ZERO + "\n").repeat(lines)));
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 5, 18, 40})
  void resource_otherLineCounts_areRefused(int lines) {
    assertThrows(SysfsFormatException.class,
        () -> SysfsAttributes.resource(P, (ZERO + "\n").repeat(lines)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0x0 0x0", "0x0 0x0 0x0 0x0", "0x0\t0x0\t0x0", "0x0 0x0 0x",
      "0x0 0x0 0x00000000000000000", "0 0 0", "0x1000 0xfff 0x200",
      "0x0 0xffffffffffffffff 0x200", "0x8000000000000000 0x7fffffffffffffff 0x200"})
  void resource_badLine_isRefused(String line) {
    assertThrows(SysfsFormatException.class,
        () -> SysfsAttributes.resource(P, line + "\n" + (ZERO + "\n").repeat(12)));
  }

  @Test
  void portType_pcieCapabilityAfterOthers_isFound() {
    byte[] c = config(256);
    c[0x40] = 0x01;
    c[0x41] = 0x48;
    c[0x48] = 0x05;
    c[0x49] = 0x60;
    c[0x60] = 0x10;
    c[0x62] = 0x62;
    assertEquals(Optional.of(PciePortType.SWITCH_DOWNSTREAM), SysfsAttributes.portType(P, c));
  }

  @Test
  void portType_noCapabilityListBit_isUnknown() {
    byte[] c = config(256);
    c[0x06] = 0;
    c[0x40] = 0x10;
    assertEquals(Optional.empty(), SysfsAttributes.portType(P, c));
  }

  @Test
  void portType_undefinedTypeCode_isUnknown() {
    byte[] c = config(256);
    c[0x40] = 0x10;
    c[0x42] = 0x32;
    assertEquals(Optional.empty(), SysfsAttributes.portType(P, c));
  }

  @Test
  void portType_pointerBelowHeader_endsTheList() {
    byte[] c = config(256);
    c[0x40] = 0x01;
    c[0x41] = 0x20;
    assertEquals(Optional.empty(), SysfsAttributes.portType(P, c));
  }

  @Test
  void portType_allOnesCapability_endsTheList() {
    byte[] c = config(256);
    c[0x40] = (byte) 0xff;
    c[0x41] = 0x40;
    assertEquals(Optional.empty(), SysfsAttributes.portType(P, c));
  }

  @Test
  void portType_headerOnlyFromUnprivilegedRead_isUnknown() {
    assertEquals(Optional.empty(), SysfsAttributes.portType(P, config(64)));
  }

  @Test
  void portType_shortConfig_isRefused() {
    assertThrows(SysfsFormatException.class, () -> SysfsAttributes.portType(P, new byte[0]));
  }

  @Test
  void portType_selfLoop_isRefused() {
    byte[] c = config(4096);
    c[0x40] = 0x01;
    c[0x41] = 0x40;
    assertThrows(SysfsFormatException.class, () -> SysfsAttributes.portType(P, c));
  }

  @Test
  void portType_pointerPastEndOfTruncatedConfig_isRefused() {
    byte[] c = config(0x42);
    assertThrows(SysfsFormatException.class, () -> SysfsAttributes.portType(P, c));
  }

  /** Status has the capability-list bit and the pointer is 0x40. */
  private static byte[] config(int size) {
    byte[] c = new byte[size];
    c[0x06] = 0x10;
    c[0x34] = 0x40;
    return c;
  }
}
