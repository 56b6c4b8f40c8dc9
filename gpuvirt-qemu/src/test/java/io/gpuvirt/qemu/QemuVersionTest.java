package io.gpuvirt.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class QemuVersionTest {

  @Test
  void parse_ubuntuVersionOutput() {
    QemuVersion v = QemuVersion.parse("QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)\n"
        + "Copyright (c) 2003-2023 Fabrice Bellard and the QEMU Project developers\n");
    assertEquals(new QemuVersion(8, 2, 2, "Debian 1:8.2.2+ds-0ubuntu1.4"), v);
  }

  @Test
  void parse_debianBareNumberWithPackage() {
    assertEquals(new QemuVersion(7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18+b3"),
        QemuVersion.parse("7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"));
  }

  @Test
  void parse_oldOneLineFormWithCopyright_readsNumberAndPackage() {
    // CentOS 7's qemu-kvm prints version, package and copyright on one line
    assertEquals(new QemuVersion(1, 5, 3, "qemu-kvm-1.5.3-175.el7_9.1"), QemuVersion.parse(
        "QEMU emulator version 1.5.3 (qemu-kvm-1.5.3-175.el7_9.1), Copyright (c) 2003-2008"
            + " Fabrice Bellard"));
  }

  @Test
  void parse_oneLineFormWithoutPackage_readsNumber() {
    assertEquals(QemuVersion.of(2, 0, 0), QemuVersion.parse(
        "QEMU emulator version 2.0.0, Copyright (c) 2003-2008 Fabrice Bellard"));
  }

  @Test
  void parse_packageWithParentheses_keepsThemInThePackage() {
    assertEquals(new QemuVersion(9, 1, 0, "qemu-kvm-9.1.0 (el9)"),
        QemuVersion.parse("QEMU emulator version 9.1.0 (qemu-kvm-9.1.0 (el9))"));
  }

  @Test
  void parse_upstreamNumber() {
    assertEquals(QemuVersion.of(10, 1, 0), QemuVersion.parse("10.1.0"));
  }

  @Test
  void parse_twoPartNumberHasMicroZero() {
    assertEquals(QemuVersion.of(9, 2, 0), QemuVersion.parse("QEMU emulator version 9.2"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "  ", "qemu", "QEMU emulator version x.y", "8", "8.2.2.1",
      "Usage: qemu-system-x86_64 [options]", "version 8.2.2",
      "QEMU emulator version 1.5.3 (pkg) and something else", "1.5.3, Fabrice Bellard"})
  void parse_garbageIsRefusedNamingTheText(String text) {
    QemuException e = assertThrows(QemuException.class, () -> QemuVersion.parse(text));
    assertTrue(e.getMessage().contains("QEMU"), e.getMessage());
  }

  @Test
  void isAtLeast_ordersNumerically() {
    assertTrue(QemuVersion.parse("10.1.0").isAtLeast(QemuVersion.parse("9.2.0")));
  }

  @Test
  void isAtLeast_ignoresThePackage() {
    assertTrue(new QemuVersion(10, 1, 0, "Debian").isAtLeast(QemuVersion.of(10, 1, 0)));
  }

  @Test
  void isAtLeast_olderIsNot() {
    assertFalse(QemuVersion.parse("8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)")
        .isAtLeast(QemuVersion.of(10, 1, 0)));
  }

  @Test
  void toString_showsNumberAndPackage() {
    assertEquals("8.2.2 (Ubuntu)", new QemuVersion(8, 2, 2, "Ubuntu").toString());
  }
}
