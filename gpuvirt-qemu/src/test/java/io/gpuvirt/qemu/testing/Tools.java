package io.gpuvirt.qemu.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * External tools the tests use. A test that needs one runs when it is installed; when it is not,
 * the test is skipped, except with {@code GPUVIRT_REQUIRE_TOOLS=1} (CI), where it fails.
 */
public final class Tools {
  /** The QEMU system emulator for x86-64. */
  public static final String QEMU = "qemu-system-x86_64";

  private Tools() {}

  /** The QEMU binary's name, or the test is skipped (failed under GPUVIRT_REQUIRE_TOOLS=1). */
  public static String qemu() {
    return require(QEMU, "qemu-system-x86");
  }

  /** The QEMU system emulator for aarch64 (Debian's qemu-system-arm). */
  public static final String QEMU_AARCH64 = "qemu-system-aarch64";

  /** The aarch64 QEMU binary's name, or skipped (failed under GPUVIRT_REQUIRE_TOOLS=1). */
  public static String qemuAarch64() {
    return require(QEMU_AARCH64, "qemu-system-arm");
  }

  /** libvirt's shell, for {@code define} and {@code domxml-to-native} (libvirt-clients). */
  public static String virsh() {
    return require("virsh", "libvirt-clients and libvirt-daemon-driver-qemu");
  }

  /** libvirt's schema check (libvirt-clients; it runs xmllint from libxml2-utils). */
  public static String virtXmlValidate() {
    require("xmllint", "libxml2-utils");
    return require("virt-xml-validate", "libvirt-clients");
  }

  private static String require(String program, String debianPackages) {
    if (onPath(program)) {
      return program;
    }
    String why = program + " is not installed (not on PATH); install Debian's " + debianPackages;
    if ("1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS"))) {
      fail(why + " (GPUVIRT_REQUIRE_TOOLS=1 makes a missing tool a failure)");
    }
    Assumptions.abort(why);
    throw new AssertionError("unreachable");
  }

  private static boolean onPath(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }
}
