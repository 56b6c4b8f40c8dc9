package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class PciAddressTest {

  @Test
  void parse_canonicalForm_givesItsParts() {
    assertEquals(new PciAddress(0, 0x17, 0, 0), PciAddress.parse("0000:17:00.0"));
  }

  @Test
  void parse_shortForm_isDomainZero() {
    assertEquals(PciAddress.parse("0000:3d:1f.7"), PciAddress.parse("3d:1f.7"));
  }

  @Test
  void parse_upperCase_isTheSameAddress() {
    assertEquals(PciAddress.parse("0000:bb:1f.7"), PciAddress.parse("0000:BB:1F.7"));
  }

  @Test
  void toString_upperCaseInput_isLowerCase() {
    assertEquals("0000:bb:0a.0", PciAddress.parse("0000:BB:0A.0").toString());
  }

  @Test
  void parse_eightDigitDomain_asNvidiaSmiPrintsIt() {
    assertEquals(PciAddress.parse("0000:17:00.0"), PciAddress.parse("00000000:17:00.0"));
  }

  @Test
  void parse_largestDomain_isAccepted() {
    assertEquals(0x7fffffff, PciAddress.parse("7fffffff:00:00.0").domain());
  }

  @Test
  void toString_wideDomain_keepsAllDigits() {
    assertEquals("10000:e0:06.0", PciAddress.parse("00010000:e0:06.0").toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "", " ", "0000:17:00.0 ", " 0000:17:00.0", "0000:17:00.0\n", "0000:17:00.0\r", "\t17:00.0",
      "0000:17 :00.0", "../0000:17:00.0", "0000:17:00.0/..", "0000:17:00.0/../../etc",
      "..:00.0", "0000:17:00./", "0000/17:00.0", "0000:17:00.0\u0000",
      "80000000:00:00.0", "ffffffff:00:00.0", "000000000:00:00.0", "000:17:00.0", "0:17:00.0",
      "0000:100:00.0", "0000:1:00.0", "0000:17:20.0", "0000:17:0.0", "0000:17:000.0",
      "0000:17:00.8", "0000:17:00.a", "0000:17:00.10", "0000:17:00", "0000:17:00.", "0000:17.00.0",
      "0000:17:00.0.0", "0000:0000:17:00.0", "17", ":", "::.", "0000::00.0",
      "0000:g7:00.0", "0000:-1:00.0", "0000:+1:00.0", "0x00:17:00.0", "0000:17:00.-0",
      "0000:\uff11\uff17:00.0", "0000:\u0661\u0667:00.0", "\u0660\u0660\u0660\u0660:17:00.0",
      "0000:17:00.\u0660", "0000:1\u0130:00.0", "0000:17:00.0\u2028"})
  void parse_malformed_isRefusedNamingTheText(String text) {
    InvalidPciAddressException e =
        assertThrows(InvalidPciAddressException.class, () -> PciAddress.parse(text));
    assertTrue(e.getMessage().startsWith("invalid PCI address '"), e.getMessage());
  }

  @Test
  void parse_null_isRefused() {
    assertThrows(InvalidPciAddressException.class, () -> PciAddress.parse(null));
  }

  @Test
  void parse_newline_isEscapedInTheMessage() {
    InvalidPciAddressException e = assertThrows(InvalidPciAddressException.class,
        () -> PciAddress.parse("0000:17:00.0\nrm -rf"));
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
  }

  @Test
  void isValid_malformed_isFalse() {
    assertFalse(PciAddress.isValid("0000:17:00.0/"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"-1,0,0,0", "0,256,0,0", "0,-1,0,0", "0,0,32,0", "0,0,0,8", "0,0,0,-1"})
  void constructor_outOfRange_isRefused(String parts) {
    int[] p = java.util.Arrays.stream(parts.split(",")).mapToInt(Integer::parseInt).toArray();
    assertThrows(InvalidPciAddressException.class, () -> new PciAddress(p[0], p[1], p[2], p[3]));
  }

  @Test
  void sysfsPath_attribute_isUnderTheDeviceDirectory() {
    assertEquals("/sys/bus/pci/devices/0000:17:00.0/driver_override",
        PciAddress.parse("0000:17:00.0").sysfsPath("driver_override"));
  }

  @Test
  void compareTo_ordersByDomainBusDeviceFunction() {
    assertEquals(java.util.List.of("0000:17:00.1", "0000:17:01.0", "0000:18:00.0",
        "0001:00:00.0"), java.util.stream.Stream.of("0001:00:00.0", "0000:18:00.0",
            "0000:17:01.0", "0000:17:00.1").map(PciAddress::parse).sorted()
        .map(PciAddress::toString).toList());
  }

  /** Property: every address survives toString/parse, in each accepted spelling. Seeded. */
  @Test
  void parse_ofToString_isTheSameAddressForRandomAddresses() {
    for (long seed = 1; seed <= 200; seed++) {
      SplittableRandom random = new SplittableRandom(seed);
      for (int i = 0; i < 50; i++) {
        int domain = random.nextBoolean() ? random.nextInt(0x10000) : random.nextInt(Integer.MAX_VALUE);
        PciAddress a = new PciAddress(domain, random.nextInt(0x100), random.nextInt(0x20),
            random.nextInt(8));
        String text = a.toString();
        assertEquals(a, PciAddress.parse(text), "seed " + seed + ": " + text);
        assertEquals(a, PciAddress.parse(text.toUpperCase(Locale.ROOT)), "seed " + seed + ": upper " + text);
        assertEquals(a, PciAddress.parse(String.format("%08x", domain) + text.substring(
            text.indexOf(':'))), "seed " + seed + ": 8-digit domain " + text);
        if (domain == 0) {
          assertEquals(a, PciAddress.parse(text.substring(5)), "seed " + seed + ": short " + text);
        }
      }
    }
  }

  /** Property: a canonical address with one character replaced is either refused or reparses. */
  @Test
  void parse_ofMutatedAddress_isRefusedOrCanonicalizesToTheSameText() {
    String alphabet = "0123456789abcdefABCDEFgxz:./ \n\u0661\uff11-";
    for (long seed = 1; seed <= 200; seed++) {
      SplittableRandom random = new SplittableRandom(seed);
      PciAddress a = new PciAddress(random.nextInt(0x10000), random.nextInt(0x100),
          random.nextInt(0x20), random.nextInt(8));
      char[] text = a.toString().toCharArray();
      text[random.nextInt(text.length)] = alphabet.charAt(random.nextInt(alphabet.length()));
      String mutated = new String(text);
      if (PciAddress.isValid(mutated)) {
        assertEquals(mutated.toLowerCase(Locale.ROOT), PciAddress.parse(mutated).toString(),
            "seed " + seed + ": " + mutated);
      }
    }
  }
}
