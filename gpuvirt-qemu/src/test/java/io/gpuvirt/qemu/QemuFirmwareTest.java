package io.gpuvirt.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Sysfs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Firmware found from QEMU's firmware descriptors, under a host root. */
final class QemuFirmwareTest {
  @TempDir Path root;

  private static String descriptor(String code, String vars, String... features) {
    return """
        {"interface-types": ["uefi"],
         "mapping": {"device": "flash",
                     "executable": {"filename": "%s", "format": "raw"},
                     "nvram-template": {"filename": "%s", "format": "raw"}},
         "targets": [{"architecture": "x86_64", "machines": ["pc-q35-*"]}],
         "features": [%s]}
        """.formatted(code, vars, String.join(",", List.of(features).stream()
            .map(f -> "\"" + f + "\"").toList()));
  }

  private void write(String dir, String name, String text) throws IOException {
    Path d = root.resolve(dir.substring(1));
    Files.createDirectories(d);
    Files.writeString(d.resolve(name), text);
  }

  @Test
  void find_secureAndPlainDescriptors_prefersTheOneWithoutSecureBoot() throws IOException {
    write("/usr/share/qemu/firmware", "40-secure.json",
        descriptor("/fw/SB_CODE.fd", "/fw/SB_VARS.fd", "secure-boot",
            "enrolled-keys", "requires-smm"));
    write("/usr/share/qemu/firmware", "60-plain.json", descriptor("/fw/CODE.fd", "/fw/VARS.fd"));
    QemuFirmware fw = QemuFirmware.find(Sysfs.at(root), "qemu-system-x86_64").orElseThrow();
    assertEquals(List.of("/fw/CODE.fd", Optional.of("/fw/VARS.fd"), true, false),
        List.of(fw.code(), fw.vars(), fw.varsTemplate(), fw.requiresSmm()));
  }

  @Test
  void find_etcDescriptorOfTheSameName_overridesAndEmptyFileHides() throws IOException {
    write("/usr/share/qemu/firmware", "60-plain.json", descriptor("/fw/CODE.fd", "/fw/VARS.fd"));
    write("/usr/share/qemu/firmware", "70-other.json", descriptor("/fw/O.fd", "/fw/OV.fd"));
    write("/etc/qemu/firmware", "60-plain.json", "");
    QemuFirmware fw = QemuFirmware.find(Sysfs.at(root), "qemu-system-x86_64").orElseThrow();
    assertEquals("/fw/O.fd", fw.code());
  }

  @Test
  void find_descriptorBesideTheBinary_isSearched() throws IOException {
    write("/opt/qemu/share/qemu/firmware", "60-own.json", descriptor("/opt/CODE.fd", "/opt/V.fd"));
    assertEquals("/opt/CODE.fd", QemuFirmware.find(Sysfs.at(root),
        "/opt/qemu/bin/qemu-system-x86_64").orElseThrow().code());
  }

  @Test
  void find_forTheAarch64Binary_takesTheVirtDescriptorNotTheQ35One() throws IOException {
    write("/usr/share/qemu/firmware", "50-x86.json", descriptor("/fw/X.fd", "/fw/XV.fd"));
    write("/usr/share/qemu/firmware", "60-arm.json", descriptor("/fw/AAVMF_CODE.fd",
        "/fw/AAVMF_VARS.fd").replace("x86_64", "aarch64").replace("pc-q35-*", "virt-*"));
    assertEquals(List.of("/fw/AAVMF_CODE.fd", "/fw/X.fd"), List.of(
        QemuFirmware.find(Sysfs.at(root), "/usr/bin/qemu-system-aarch64").orElseThrow().code(),
        QemuFirmware.find(Sysfs.at(root), "qemu-system-x86_64").orElseThrow().code()));
  }

  @Test
  void find_biosOrAarch64OrMalformedDescriptors_findsNothing() throws IOException {
    write("/usr/share/qemu/firmware", "10-bad.json", "{not json");
    write("/usr/share/qemu/firmware", "20-arm.json", descriptor("/fw/A.fd", "/fw/AV.fd")
        .replace("x86_64", "aarch64"));
    write("/usr/share/qemu/firmware", "30-bios.json", descriptor("/fw/B.fd", "/fw/BV.fd")
        .replace("\"uefi\"", "\"bios\""));
    write("/usr/share/qemu/firmware", "40-rel.json", descriptor("fw/R.fd", "/fw/RV.fd"));
    assertEquals(Optional.empty(), QemuFirmware.find(Sysfs.at(root), "qemu-system-x86_64"));
  }

  @Test
  void find_onThisHost_namesInstalledFiles() {
    Assumptions.assumeTrue(Files.isDirectory(Path.of("/usr/share/qemu/firmware"))
        || "1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS")), "no OVMF installed");
    QemuFirmware fw = QemuFirmware.find(Sysfs.host(), "qemu-system-x86_64").orElseThrow();
    assertTrue(Files.isRegularFile(Path.of(fw.code())) && !fw.secureBoot()
        && fw.vars().map(v -> Files.isRegularFile(Path.of(v))).orElse(true), fw.toString());
  }
}
