package io.gpuvirt.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The UEFI firmware a VM boots: the code image and, for a split firmware, its variable store.
 *
 * <p>{@link #find} looks for firmware the way QEMU and libvirt describe it: the JSON descriptors of
 * QEMU's {@code docs/interop/firmware.json} in {@code share/qemu/firmware} ({@code
 * /usr/share/qemu/firmware}, the binary's own {@code PREFIX/share/qemu/firmware}, then {@code
 * /etc/qemu/firmware}, where a file overrides a file of the same name in the directories before it
 * and an empty file hides it), read in file-name order (the leading number is the priority). It
 * takes a UEFI firmware for x86_64 q35 in flash, preferring one without Secure Boot and without
 * enrolled keys: a GPU guest's driver is usually not signed for Secure Boot. Debian and Ubuntu ship
 * the descriptors in the {@code ovmf} package, Fedora and RHEL in {@code edk2-ovmf}.
 *
 * <p>A firmware found from a descriptor names the descriptor's variable store <em>template</em>:
 * the command attaches it with {@code snapshot=on}, so the VM runs but its UEFI variables (boot
 * order) are not kept. To keep them, copy the template per VM and pass the copy with {@link #of(String,
 * String)}.
 *
 * <pre>{@code
 * Optional<QemuFirmware> fw = QemuFirmware.find(Sysfs.host(), "/usr/bin/qemu-system-x86_64");
 * QemuFirmware own = QemuFirmware.of("/usr/share/OVMF/OVMF_CODE_4M.fd", "/var/lib/vm-42/VARS.fd");
 * }</pre>
 */
public final class QemuFirmware {
  /** The descriptor directories QEMU's specification names, lowest priority first. */
  public static final List<String> SYSTEM_DIRECTORIES = List.of("/usr/share/qemu/firmware",
      "/etc/qemu/firmware");

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern DESCRIPTOR_NAME = Pattern.compile("[A-Za-z0-9_.+\\-]+\\.json");
  private static final int MAX_DESCRIPTORS = 256;

  private final String code;
  private final String codeFormat;
  private final String vars;
  private final String varsFormat;
  private final boolean varsTemplate;
  private final boolean requiresSmm;
  private final boolean secureBoot;
  private final String source;

  private QemuFirmware(String code, String codeFormat, String vars, String varsFormat,
      boolean varsTemplate, boolean requiresSmm, boolean secureBoot, String source) {
    this.code = code;
    this.codeFormat = codeFormat;
    this.vars = vars;
    this.varsFormat = varsFormat;
    this.varsTemplate = varsTemplate;
    this.requiresSmm = requiresSmm;
    this.secureBoot = secureBoot;
    this.source = source;
  }

  /**
   * A firmware image with no separate variable store (a combined {@code OVMF.fd}, or a code image
   * that runs without stored variables), raw format.
   *
   * @throws InvalidValueException when the path is not absolute or holds a character QEMU's option
   *     syntax or a path cannot carry
   */
  public static QemuFirmware of(String code) {
    return new QemuFirmware(checkPath("firmware code", code), "raw", null, "raw", false, false,
        false, "given");
  }

  /**
   * A split firmware: the code image (read-only) and this VM's own, writable variable store,
   * both raw.
   *
   * @throws InvalidValueException when a path is not absolute or holds a character QEMU's option
   *     syntax or a path cannot carry
   */
  public static QemuFirmware of(String code, String vars) {
    return new QemuFirmware(checkPath("firmware code", code), "raw",
        checkPath("firmware variable store", vars), "raw", false, false, false, "given");
  }

  /**
   * The firmware QEMU's descriptors choose for a UEFI guest of the binary's architecture on this
   * host: x86_64 q35 (OVMF) for {@code qemu-system-x86_64}, aarch64 {@code virt} (AAVMF) for
   * {@code qemu-system-aarch64}; empty when there is none (no {@code ovmf} or
   * {@code qemu-efi-aarch64} installed).
   *
   * @param host the host whose {@code /usr/share} and {@code /etc} hold the descriptors
   * @param binary the QEMU binary; when it is an absolute path its own {@code
   *     PREFIX/share/qemu/firmware} is searched too
   */
  public static Optional<QemuFirmware> find(Sysfs host, String binary) {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(binary, "binary");
    List<QemuFirmware> found = candidates(host, binary);
    return found.stream().filter(f -> !f.secureBoot).findFirst()
        .or(() -> found.stream().findFirst());
  }

  /** The directories {@link #find} searches for this binary, lowest priority first. */
  public static List<String> searchDirectories(String binary) {
    List<String> dirs = new ArrayList<>();
    dirs.add(SYSTEM_DIRECTORIES.get(0));
    prefixDirectory(binary).filter(d -> !dirs.contains(d)).ifPresent(dirs::add);
    dirs.add(SYSTEM_DIRECTORIES.get(1));
    return List.copyOf(dirs);
  }

  private static Optional<String> prefixDirectory(String binary) {
    // /opt/qemu/bin/qemu-system-x86_64 -> /opt/qemu/share/qemu/firmware
    if (!binary.startsWith("/")) {
      return Optional.empty();
    }
    String[] parts = binary.split("/");
    if (parts.length < 4 || !parts[parts.length - 2].equals("bin")) {
      return Optional.empty();
    }
    String prefix = String.join("/", java.util.Arrays.copyOf(parts, parts.length - 2));
    return Optional.of((prefix.isEmpty() ? "" : prefix) + "/share/qemu/firmware");
  }

  private static List<QemuFirmware> candidates(Sysfs host, String binary) {
    Map<String, String> byName = new TreeMap<>(); // file name -> host path; later dirs override
    for (String dir : searchDirectories(binary)) {
      if (!host.isDirectory(dir)) {
        continue;
      }
      for (String name : host.list(dir)) {
        if (DESCRIPTOR_NAME.matcher(name).matches() && byName.size() < MAX_DESCRIPTORS) {
          byName.put(name, dir + "/" + name);
        }
      }
    }
    List<QemuFirmware> out = new ArrayList<>();
    for (String path : byName.values()) {
      String text;
      try {
        text = host.read(path);
      } catch (HostAccessException e) {
        continue; // unreadable descriptor: QEMU and libvirt skip it too
      }
      if (text.isBlank()) {
        continue; // an empty file masks a descriptor of the same name
      }
      parse(text, path, QemuProbe.architectureOf(binary, List.of())).ifPresent(out::add);
    }
    return List.copyOf(out);
  }

  /**
   * The firmware a descriptor names when it is UEFI, in flash, for x86_64 q35; empty for any
   * other descriptor or one that cannot be read as a descriptor.
   */
  static Optional<QemuFirmware> parse(String json, String source) {
    return parse(json, source, CpuArchitecture.X86_64);
  }

  /**
   * The firmware a descriptor names when it is UEFI, in flash, for the guests of {@code arch}:
   * x86_64 q35 (OVMF), or aarch64 {@code virt} (AAVMF, Debian's {@code qemu-efi-aarch64}).
   */
  static Optional<QemuFirmware> parse(String json, String source, CpuArchitecture arch) {
    JsonNode d;
    try {
      d = JSON.readTree(json);
    } catch (IOException e) {
      return Optional.empty();
    }
    if (d == null || !d.isObject() || !contains(d.path("interface-types"), "uefi")) {
      return Optional.empty();
    }
    JsonNode mapping = d.path("mapping");
    if (!"flash".equals(mapping.path("device").asText())) {
      return Optional.empty();
    }
    String mode = mapping.path("mode").asText("split");
    if (!mode.equals("split") && !mode.equals("stateless")) {
      return Optional.empty();
    }
    if (!targets(d.path("targets"), arch)) {
      return Optional.empty();
    }
    String code = mapping.path("executable").path("filename").asText("");
    String codeFormat = mapping.path("executable").path("format").asText("raw");
    String vars = mode.equals("split")
        ? mapping.path("nvram-template").path("filename").asText("") : null;
    String varsFormat = mapping.path("nvram-template").path("format").asText("raw");
    try {
      checkPath("firmware code", code);
      if (vars != null) {
        checkPath("firmware variable store", vars);
      }
      checkFormat(codeFormat);
      checkFormat(varsFormat);
    } catch (InvalidValueException e) {
      return Optional.empty();
    }
    JsonNode features = d.path("features");
    boolean secure = contains(features, "secure-boot") || contains(features, "enrolled-keys");
    return Optional.of(new QemuFirmware(code, codeFormat, vars, varsFormat, vars != null,
        contains(features, "requires-smm"), secure, source));
  }

  private static boolean targets(JsonNode targets, CpuArchitecture arch) {
    for (JsonNode t : targets) {
      if (!arch.kernelName().equals(t.path("architecture").asText())) {
        continue;
      }
      for (JsonNode m : t.path("machines")) {
        // machine patterns are globs over versioned names: "pc-q35-*", "pc-q35-8.*", "virt-*"
        String glob = m.asText();
        if (arch == CpuArchitecture.X86_64 && (glob.startsWith("pc-q35-") || glob.equals("q35"))
            || arch == CpuArchitecture.AARCH64 && (glob.startsWith("virt-")
                || glob.equals("virt"))) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean contains(JsonNode array, String value) {
    for (JsonNode n : array) {
      if (value.equals(n.asText())) {
        return true;
      }
    }
    return false;
  }

  private static void checkFormat(String format) {
    if (!format.equals("raw") && !format.equals("qcow2")) {
      throw new InvalidValueException("firmware format '" + format + "'");
    }
  }

  private static String checkPath(String what, String path) {
    if (path == null || !path.startsWith("/") || path.length() > 4096) {
      throw new InvalidValueException(what + " '" + path + "' must be an absolute path");
    }
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        throw new InvalidValueException(what + " '" + path.replace("\n", "\\n")
            + "' contains a control character");
      }
    }
    return path;
  }

  /** The code image, attached read-only. */
  public String code() {
    return code;
  }

  /** The code image's format: {@code raw} or {@code qcow2}. */
  public String codeFormat() {
    return codeFormat;
  }

  /** The variable store, if the firmware is split. */
  public Optional<String> vars() {
    return Optional.ofNullable(vars);
  }

  /** The variable store's format: {@code raw} or {@code qcow2}. */
  public String varsFormat() {
    return varsFormat;
  }

  /**
   * Whether {@link #vars()} is a shared template (from a descriptor), attached with {@code
   * snapshot=on} so that it is never written; false for a VM's own store.
   */
  public boolean varsTemplate() {
    return varsTemplate;
  }

  /** Whether the firmware needs SMM ({@code -machine smm=on} and a secure flash). */
  public boolean requiresSmm() {
    return requiresSmm;
  }

  /** Whether the firmware enforces Secure Boot or has keys enrolled. */
  public boolean secureBoot() {
    return secureBoot;
  }

  /** Where it came from: the descriptor's host path, or {@code given}. */
  public String source() {
    return source;
  }

  @Override
  public String toString() {
    return code + (vars == null ? "" : " + " + vars + (varsTemplate ? " (template)" : ""))
        + " from " + source;
  }
}
