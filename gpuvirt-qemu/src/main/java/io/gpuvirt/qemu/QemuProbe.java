package io.gpuvirt.qemu;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.CpuArchitecture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Probes a QEMU binary for its {@link QemuCapabilities} by running it with {@code --version},
 * {@code -machine help}, {@code -accel help}, {@code -object help} and {@code -device TYPE,help}
 * (each a short run that starts no guest) through a {@link CommandRunner}. It works for
 * {@code qemu-system-x86_64} and {@code qemu-system-aarch64}: the architecture is read from the
 * binary's name, else from its machines ({@code virt} without {@code q35} is aarch64), and picks
 * the default device types.
 *
 * <pre>{@code
 * QemuCapabilities caps = QemuProbe.probe(CommandRunner.system(), "qemu-system-x86_64");
 * caps.hasProperty("vfio-pci", "x-no-mmap");   // true on every QEMU since 2.5
 * }</pre>
 *
 * <p>The static {@code parse...} methods read the output of each of those runs; they are public
 * so that output captured elsewhere (another host, a support bundle) can be read the same way.
 */
public final class QemuProbe {
  /**
   * The device types probed by default: what the command builder emits ({@code vfio-pci},
   * {@code pcie-root-port}) and the CPU types of {@code -cpu host} and {@code -cpu max}.
   */
  public static final List<String> DEFAULT_DEVICE_TYPES = List.of(QemuCapabilities.VFIO_PCI,
      QemuCapabilities.PCIE_ROOT_PORT, "host-x86_64-cpu", "max-x86_64-cpu");

  /**
   * The device types probed by default for an aarch64 binary: {@code vfio-pci},
   * {@code pcie-root-port}, {@code pxb-pcie} (one per GPU on Grace) and the CPU types of
   * {@code -cpu host} and {@code -cpu max}.
   */
  public static final List<String> DEFAULT_AARCH64_DEVICE_TYPES = List.of(
      QemuCapabilities.VFIO_PCI, QemuCapabilities.PCIE_ROOT_PORT, QemuCapabilities.PXB_PCIE,
      "host-arm-cpu", "max-arm-cpu");

  /** How long each probing run may take. */
  public static final Duration TIMEOUT = Duration.ofSeconds(30);

  // "  x-no-mmap=<bool>  - ..." (QEMU 4.2+) or "vfio-pci.x-no-mmap=bool" (older)
  private static final Pattern PROPERTY = Pattern.compile("^\\s*([A-Za-z0-9_.\\-]+)=");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.\\-]+");

  private QemuProbe() {}

  /** Probes the binary for its version, machines, accelerators and the default device types. */
  public static QemuCapabilities probe(CommandRunner runner, String binary) {
    return probe(runner, binary, List.of());
  }

  /**
   * Probes the binary for its version, machines, accelerators, the default device types and
   * {@code extraDeviceTypes} (another CPU model's type, {@code EPYC-x86_64-cpu}, for example).
   *
   * @throws QemuException naming the binary and the run that failed or printed something
   *     unreadable
   */
  public static QemuCapabilities probe(CommandRunner runner, String binary,
      List<String> extraDeviceTypes) {
    return probe(runner, binary, extraDeviceTypes, TIMEOUT);
  }

  /**
   * As {@link #probe(CommandRunner, String, List)}, with {@code timeout} for each probing run
   * instead of {@link #TIMEOUT}. A run past it is killed (with what it started) and raises
   * {@link io.gpuvirt.core.host.CommandException} naming the binary, its argv and the timeout.
   */
  public static QemuCapabilities probe(CommandRunner runner, String binary,
      List<String> extraDeviceTypes, Duration timeout) {
    Objects.requireNonNull(runner, "runner");
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(binary, "binary");
    for (String t : extraDeviceTypes) {
      if (t == null || !NAME.matcher(t).matches()) {
        throw new InvalidValueException("device type '" + t
            + "' is not a QEMU type name (letters, digits, '_', '.', '-')");
      }
    }
    CommandResult version = run(runner, timeout, binary, "--version");
    QemuCapabilities.Builder caps = QemuCapabilities.builder(parseVersion(binary, version.stdout()));
    List<String> machines = parseMachines(binary, run(runner, timeout, binary, "-machine", "help")
        .stdout());
    caps.machines(machines);
    CpuArchitecture arch = architectureOf(binary, machines);
    caps.architecture(arch);
    caps.accelerators(parseAccelerators(run(runner, timeout, binary, "-accel", "help").stdout()));
    caps.objects(parseObjects(binary, run(runner, timeout, binary, "-object", "help").stdout()));
    Set<String> types = new LinkedHashSet<>(arch == CpuArchitecture.AARCH64
        ? DEFAULT_AARCH64_DEVICE_TYPES : DEFAULT_DEVICE_TYPES);
    for (String t : extraDeviceTypes) {
      if (t == null || !NAME.matcher(t).matches()) {
        throw new InvalidValueException("device type '" + t
            + "' is not a QEMU type name (letters, digits, '_', '.', '-')");
      }
      types.add(t);
    }
    for (String type : types) {
      CommandResult r = runner.run(Command.of(binary, "-device", type + ",help")
          .withTimeout(timeout));
      // QEMU exits 0 even for an unknown device; the text says which case it is.
      if (r.stdout().strip().startsWith(type + " options:")
          || r.stdout().contains("There are no options for " + type)) {
        caps.device(type, parseDeviceProperties(type, r.stdout()));
      } else if (r.stderr().contains("'" + type + "' not found")) {
        caps.absentDevice(type);
      } else {
        throw new QemuException(binary + " -device " + type + ",help printed neither its"
            + " properties nor 'not found' (exit " + r.exitCode() + "; stderr: '"
            + QemuVersion.abbreviate(r.stderr().strip()) + "'); check that " + binary
            + " is a qemu-system binary");
      }
    }
    return caps.build();
  }

  /** Reads {@code --version} output; names the binary when it is not a QEMU version. */
  static QemuVersion parseVersion(String binary, String output) {
    try {
      return QemuVersion.parse(output);
    } catch (QemuException e) {
      throw new QemuException(binary + " --version: " + e.getMessage(), e);
    }
  }

  /**
   * Reads {@code -machine help}: the first word of every line after {@code Supported machines
   * are:}, which includes the aliases ({@code q35}, {@code pc}).
   *
   * @throws QemuException when the header is missing
   */
  public static List<String> parseMachines(String binary, String output) {
    List<String> lines = output.lines().toList();
    int header = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).strip().startsWith("Supported machines are")) {
        header = i;
        break;
      }
    }
    if (header < 0) {
      throw new QemuException(binary + " -machine help did not list machines (no 'Supported"
          + " machines are:' line in '" + QemuVersion.abbreviate(output.strip())
          + "'); check that " + binary + " is a qemu-system binary");
    }
    List<String> machines = new ArrayList<>();
    for (String line : lines.subList(header + 1, lines.size())) {
      String word = line.strip().split("\\s+", 2)[0];
      if (NAME.matcher(word).matches()) {
        machines.add(word);
      }
    }
    return List.copyOf(machines);
  }

  /**
   * The architecture of a binary's guests: {@code qemu-system-aarch64} or
   * {@code qemu-system-x86_64} by its file name, else aarch64 when its machines have {@code virt}
   * and no {@code q35}, else x86_64.
   */
  public static CpuArchitecture architectureOf(String binary, List<String> machines) {
    String file = binary.substring(binary.lastIndexOf('/') + 1);
    if (file.startsWith("qemu-system-")) {
      try {
        return CpuArchitecture.parse(file.substring("qemu-system-".length()));
      } catch (InvalidValueException e) {
        // another target (qemu-system-riscv64): fall back to its machines
      }
    }
    return machines.contains("virt") && !machines.contains("q35") ? CpuArchitecture.AARCH64
        : CpuArchitecture.X86_64;
  }

  /**
   * Reads {@code -object help}: the type names after {@code List of user creatable objects:}.
   *
   * @throws QemuException when the header is missing
   */
  public static List<String> parseObjects(String binary, String output) {
    List<String> lines = output.lines().toList();
    int header = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).strip().startsWith("List of user creatable objects")) {
        header = i;
        break;
      }
    }
    if (header < 0) {
      throw new QemuException(binary + " -object help did not list object types (no 'List of"
          + " user creatable objects:' line in '" + QemuVersion.abbreviate(output.strip())
          + "'); check that " + binary + " is a qemu-system binary");
    }
    List<String> names = new ArrayList<>();
    for (String line : lines.subList(header + 1, lines.size())) {
      String s = line.strip();
      if (NAME.matcher(s).matches()) {
        names.add(s);
      }
    }
    return List.copyOf(names);
  }

  /** Reads {@code -accel help}: one accelerator name a line after the header. */
  public static List<String> parseAccelerators(String output) {
    List<String> names = new ArrayList<>();
    for (String line : output.lines().toList()) {
      String s = line.strip();
      if (!s.isEmpty() && !s.endsWith(":") && NAME.matcher(s).matches()) {
        names.add(s);
      }
    }
    return List.copyOf(names);
  }

  /**
   * Reads {@code -device TYPE,help}: the property names, in either the current format
   * ({@code   x-no-mmap=<bool>  - ...}) or the pre-4.2 one ({@code vfio-pci.x-no-mmap=bool}).
   */
  public static List<String> parseDeviceProperties(String deviceType, String output) {
    List<String> props = new ArrayList<>();
    String prefix = deviceType + ".";
    for (String line : output.lines().toList()) {
      Matcher m = PROPERTY.matcher(line);
      if (m.find()) {
        String name = m.group(1);
        props.add(name.startsWith(prefix) ? name.substring(prefix.length()) : name);
      }
    }
    return List.copyOf(props);
  }

  private static CommandResult run(CommandRunner runner, Duration timeout, String binary,
      String... args) {
    CommandResult r = runner.run(Command.of(binary, args).withTimeout(timeout));
    if (!r.succeeded()) {
      throw new QemuException(binary + " " + String.join(" ", args) + " exited "
          + r.exitCode() + " while probing QEMU's capabilities (stderr: '"
          + QemuVersion.abbreviate(r.stderr().strip()) + "'); check that " + binary
          + " is an installed qemu-system binary");
    }
    return r;
  }
}
