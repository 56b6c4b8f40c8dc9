package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.host.Sysfs;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class PciNamesTest {
  @TempDir Path root;

  private static final String SMALL = String.join("\n",
      "# pci.ids sample",
      "#\tcomment with a tab",
      "10de  NVIDIA Corporation",
      "\t2330  GH100 [H100 SXM5 80GB] (from the file)",
      "\t1eb8  TU104GL [Tesla T4]",
      "\t\t10de 12a2  T4 16GB",
      "8086  Intel Corporation",
      "\t1234  Some Intel device",
      "",
      "C 03  Display controller",
      "\t02  3D controller",
      "1234  looks like a vendor but is in the class section",
      "");

  private void write(String path, byte[] content) throws IOException {
    Path file = root.resolve(path.substring(1));
    Files.createDirectories(file.getParent());
    Files.write(file, content);
  }

  @Test
  void parse_smallFile_namesVendorsAndDevicesAndIgnoresSubsystemsAndClasses() {
    PciNames names = PciNames.parse(SMALL, "sample");
    assertEquals(List.of(Optional.of("NVIDIA Corporation"), Optional.of("TU104GL [Tesla T4]"),
        Optional.of("Some Intel device"), Optional.empty(), List.of()),
        List.of(names.vendor(0x10de), names.device(new PciId(0x10de, 0x1eb8)),
            names.device(new PciId(0x8086, 0x1234)), names.vendor(0x1234), names.warnings()));
  }

  @Test
  void parse_knownGpu_ownTableWinsOverTheFile() {
    PciNames names = PciNames.parse(SMALL, "sample");
    assertEquals("NVIDIA Corporation GH100 [H100 SXM5 80GB]",
        names.describe(new PciId(0x10de, 0x2330)));
  }

  @Test
  void parse_malformedLines_areSkippedWithAWarning() {
    String text = String.join("\n", "10de  NVIDIA Corporation", "\t23x0  bad hex", "\tabcd",
        "zzzz  not a vendor", "\t1111  orphan device after a bad vendor", "8086  Intel Corporation",
        "\t1234  Good device", "");
    PciNames names = PciNames.parse(text, "crafted");
    assertEquals(4, names.warnings().size(), names.warnings().toString());
    assertTrue(names.warnings().get(0).startsWith("crafted line 2: "), names.warnings().get(0));
    assertEquals(List.of(Optional.of("Good device"), Optional.empty()),
        List.of(names.device(new PciId(0x8086, 0x1234)), names.device(new PciId(0x8086, 0x1111))));
  }

  @Test
  void describe_unknownIds_readsAsLspciWritesThem() {
    assertEquals("Vendor 1234 Device 5678", PciNames.builtIn().describe(new PciId(0x1234, 0x5678)));
    assertEquals("NVIDIA Corporation Device 9999",
        PciNames.builtIn().describe(new PciId(0x10de, 0x9999)));
  }

  @Test
  void load_noDatabaseUnderTheRoot_usesTheOwnTable() {
    PciNames names = PciNames.load(Sysfs.at(root));
    assertEquals(List.of(Optional.empty(), "NVIDIA Corporation GB100 [B200]",
        "NVIDIA Corporation GH100 [H100 NVSwitch]"), List.of(names.source(),
        names.describe(new PciId(0x10de, 0x2901)), names.describe(new PciId(0x10de, 0x22a3))));
  }

  @Test
  void load_hwdataPath_isReadFromTheRoot() throws IOException {
    write("/usr/share/hwdata/pci.ids", SMALL.getBytes(StandardCharsets.UTF_8));
    PciNames names = PciNames.load(Sysfs.at(root));
    assertEquals(Optional.of("TU104GL [Tesla T4]"), names.device(new PciId(0x10de, 0x1eb8)));
  }

  @Test
  void load_gzippedDatabase_isDecompressed() throws IOException {
    Path file = root.resolve("usr/share/misc/pci.ids.gz");
    Files.createDirectories(file.getParent());
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
      out.write(SMALL.getBytes(StandardCharsets.UTF_8));
    }
    assertEquals(Optional.of("Some Intel device"),
        PciNames.load(Sysfs.at(root)).device(new PciId(0x8086, 0x1234)));
  }

  @Test
  void load_corruptGzip_fallsBackToTheOwnTable() throws IOException {
    write("/usr/share/misc/pci.ids.gz", "not gzip".getBytes(StandardCharsets.UTF_8));
    PciNames names = PciNames.load(Sysfs.at(root));
    assertEquals(List.of(Optional.empty(), "NVIDIA Corporation GB100 [B200]"),
        List.of(names.source(), names.describe(new PciId(0x10de, 0x2901))));
  }

  @Test
  void load_thisMachinesPciIds_parsesWithoutWarningsAndNamesWellKnownDevices() {
    Path real = Path.of("/usr/share/misc/pci.ids");
    if (!Files.isRegularFile(real)) {
      if ("1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS"))) {
        fail("/usr/share/misc/pci.ids is missing and GPUVIRT_REQUIRE_TOOLS=1; install pciutils");
      }
      Assumptions.abort("/usr/share/misc/pci.ids is missing (pciutils not installed); skipping");
    }
    PciNames names = PciNames.load(Sysfs.at(Path.of("/")));
    assertEquals(List.of(Optional.of(real.toString()), List.of(), Optional.of("Intel Corporation"),
        Optional.of("Red Hat, Inc.")),
        List.of(names.source(), names.warnings(), names.vendor(0x8086), names.vendor(0x1b36)));
    assertTrue(names.device(new PciId(0x1b36, 0x000c)).isPresent(), "QEMU PCIe root port");
  }
}
