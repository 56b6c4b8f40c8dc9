package io.gpuvirt.core.pci;

import io.gpuvirt.core.host.Sysfs;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Vendor and device names, as {@code lspci} shows them: from the host's {@code pci.ids}
 * (pciutils' database) and gpuvirt's own table for the GPUs and NVSwitches it knows, which wins
 * for those ids.
 *
 * <p>{@link #load(Sysfs)} looks, under the host root, at {@code /usr/share/misc/pci.ids},
 * {@code /usr/share/hwdata/pci.ids} and {@code /usr/share/pci.ids}, each also as {@code .gz},
 * and uses the first that exists. A missing database means the own table only; a malformed line
 * is skipped with a warning, never fatal.
 */
public final class PciNames {
  /**
   * The logger, made on the first warning: SLF4J's first logger looks up its provider
   * ({@link java.util.ServiceLoader} over the class path), about 4 ms of a command's start-up
   * that {@code gpuvirt topology}, which names devices and never warns on a good database,
   * need not pay.
   */
  private static final class Log {
    static final Logger LOG = LoggerFactory.getLogger(PciNames.class);
  }

  /** Where pciutils installs its database, in the order looked at. */
  public static final List<String> DATABASE_PATHS = List.of("/usr/share/misc/pci.ids",
      "/usr/share/misc/pci.ids.gz", "/usr/share/hwdata/pci.ids", "/usr/share/hwdata/pci.ids.gz",
      "/usr/share/pci.ids", "/usr/share/pci.ids.gz");

  private static final int MAX_UNCOMPRESSED = 64 * 1024 * 1024;

  /** gpuvirt's own names for the devices it knows (SYSFS.md section 9); these win. */
  private static final Map<PciId, String> OWN = Map.of(
      new PciId(PciId.NVIDIA, 0x2901), "GB100 [B200]",
      new PciId(PciId.NVIDIA, 0x2330), "GH100 [H100 SXM5 80GB]",
      new PciId(PciId.NVIDIA, 0x2335), "GH100 [H200 SXM 141GB]",
      new PciId(PciId.NVIDIA, 0x2331), "GH100 [H100 PCIe]",
      new PciId(PciId.NVIDIA, 0x2941), "GB100 [HGX GB200]",
      new PciId(PciId.NVIDIA, 0x22a3), "GH100 [H100 NVSwitch]",
      new PciId(PciId.NVIDIA, 0x1af1), "GA100 [A100 NVSwitch]",
      new PciId(PciId.MELLANOX, 0x1021), "MT2910 Family [ConnectX-7]");

  /** Vendor names as pci.ids spells them, for the vendors of the hosts gpuvirt simulates. */
  private static final Map<Integer, String> OWN_VENDORS = Map.of(
      PciId.NVIDIA, "NVIDIA Corporation", PciId.MELLANOX, "Mellanox Technologies",
      0x8086, "Intel Corporation", 0x1022, "Advanced Micro Devices, Inc. [AMD]",
      0x1000, "Broadcom / LSI", 0x1b36, "Red Hat, Inc.");

  private final Map<Integer, String> vendors;
  private final Map<PciId, String> devices;
  private final Optional<String> source;
  private final List<String> warnings;

  private PciNames(Map<Integer, String> vendors, Map<PciId, String> devices,
      Optional<String> source, List<String> warnings) {
    Map<Integer, String> v = new HashMap<>(vendors);
    v.putAll(OWN_VENDORS);
    Map<PciId, String> d = new HashMap<>(devices);
    d.putAll(OWN);
    this.vendors = Map.copyOf(v);
    this.devices = Map.copyOf(d);
    this.source = source;
    this.warnings = List.copyOf(warnings);
  }

  /** gpuvirt's own table only. */
  public static PciNames builtIn() {
    return new PciNames(Map.of(), Map.of(), Optional.empty(), List.of());
  }

  /** The host's {@code pci.ids} (the first of {@link #DATABASE_PATHS}) plus the own table. */
  public static PciNames load(Sysfs sysfs) {
    for (String path : DATABASE_PATHS) {
      if (!sysfs.exists(path)) {
        continue;
      }
      byte[] bytes = sysfs.readBytes(path);
      String text;
      if (path.endsWith(".gz")) {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
          byte[] raw = in.readNBytes(MAX_UNCOMPRESSED + 1);
          if (raw.length > MAX_UNCOMPRESSED) {
            Log.LOG.warn("{} under {} holds more than {} bytes uncompressed; using gpuvirt's own"
                + " names only", path, sysfs.root(), MAX_UNCOMPRESSED);
            return builtIn();
          }
          text = new String(raw, StandardCharsets.UTF_8);
        } catch (IOException e) {
          Log.LOG.warn("{} under {} is not a readable gzip file ({}); using gpuvirt's own names"
              + " only", path, sysfs.root(), e.getMessage());
          return builtIn();
        }
      } else {
        text = new String(bytes, StandardCharsets.UTF_8);
      }
      return parse(text, sysfs.root().resolve(path.substring(1)).toString());
    }
    return builtIn();
  }

  /**
   * Parses {@code pci.ids} text: vendor lines {@code vvvv  name}, device lines
   * {@code \tdddd  name}; subsystem lines ({@code \t\t}), comments and the class section
   * ({@code C } lines to the end) are ignored. A malformed line is skipped, with a warning.
   *
   * @param source where the text came from, for warnings and {@link #source()}
   */
  public static PciNames parse(String text, String source) {
    Map<Integer, String> vendors = new HashMap<>();
    Map<PciId, String> devices = new HashMap<>();
    List<String> warnings = new ArrayList<>();
    Integer vendor = null;
    int number = 0;
    for (String line : text.split("\n", -1)) {
      number++;
      if (line.endsWith("\r")) {
        line = line.substring(0, line.length() - 1);
      }
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      if (line.startsWith("C ")) {
        break; // the class section: the rest of the file names classes, not devices
      }
      if (line.startsWith("\t\t")) {
        continue; // subsystem
      }
      boolean device = line.startsWith("\t");
      String body = device ? line.substring(1) : line;
      if (body.length() < 7 || !isHex4(body.substring(0, 4)) || !body.startsWith("  ", 4)
          || body.substring(6).isBlank() || (device && vendor == null)) {
        String warning = source + " line " + number + ": not a " + (device ? "device" : "vendor")
            + " line ('" + (device ? "\\t" : "") + "XXXX  name', XXXX four hex digits"
            + (device && vendor == null ? ", after a vendor line" : "") + "); skipped";
        warnings.add(warning);
        Log.LOG.warn(warning);
        if (!device) {
          vendor = null; // the device lines that follow belong to no vendor we know
        }
        continue;
      }
      int id = Integer.parseInt(body.substring(0, 4), 16);
      String name = body.substring(6).strip();
      if (device) {
        devices.putIfAbsent(new PciId(vendor, id), name);
      } else {
        vendor = id;
        vendors.putIfAbsent(id, name);
      }
    }
    return new PciNames(vendors, devices, Optional.of(source), warnings);
  }

  private static boolean isHex4(String s) {
    return s.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }

  /** The vendor's name, e.g. "NVIDIA Corporation". */
  public Optional<String> vendor(int vendorId) {
    return Optional.ofNullable(vendors.get(vendorId));
  }

  /** The device's name, e.g. "GB100 [B200]". */
  public Optional<String> device(PciId id) {
    return Optional.ofNullable(devices.get(id));
  }

  /**
   * The name as {@code lspci} prints it: "NVIDIA Corporation GB100 [B200]"; an unknown part as
   * lspci writes it ("Device 2901", "Vendor 1234").
   */
  public String describe(PciId id) {
    String v = vendor(id.vendor()).orElse(String.format("Vendor %04x", id.vendor()));
    String d = device(id).orElse(String.format("Device %04x", id.device()));
    return v + " " + d;
  }

  /** The {@code pci.ids} file that was read; empty when only the own table is used. */
  public Optional<String> source() {
    return source;
  }

  /** One line per malformed line skipped while parsing. */
  public List<String> warnings() {
    return warnings;
  }
}
