package io.gpuvirt.examples.cli;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuException;
import io.gpuvirt.qemu.QemuFirmware;
import io.gpuvirt.qemu.QemuProbe;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.command.Accelerator;
import io.gpuvirt.qemu.command.DiskImages;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.qemu.command.QemuVmPlanner;
import io.gpuvirt.qemu.libvirt.LibvirtVersion;
import io.gpuvirt.qemu.libvirt.LibvirtVmPlanner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/**
 * The options that say which QEMU the command is for and what the VM gets. With {@code --qemu BIN}
 * the binary is probed (version, machines, device properties) and becomes the command's program;
 * with {@code --qemu-version} its capabilities are taken from the version alone; with neither,
 * the host architecture's binary ({@code qemu-system-x86_64}, or {@code qemu-system-aarch64} on
 * an arm64 host such as a Grace GB200) is probed when it is on PATH, else the version the default
 * planner assumes ({@link QemuVmPlanner#ASSUMED_VERSION}) is assumed (and the output says so).
 * The host architecture is data the command sets ({@link #hostArchitecture}). The UEFI
 * firmware comes from QEMU's firmware descriptors ({@link QemuFirmware#find}) unless
 * {@code --firmware} names it.
 */
final class QemuOptions {
  /** Guest memory per passed-through GPU when {@code --memory} is not given. */
  static final long DEFAULT_MIB_PER_GPU = 16 * 1024;
  /** Virtual CPUs per passed-through GPU when {@code --cpus} is not given. */
  static final int DEFAULT_CPUS_PER_GPU = 4;

  private static final Pattern VERSION = Pattern.compile("([0-9]{1,4})\\.([0-9]{1,4})"
      + "(?:\\.([0-9]{1,4}))?");
  private static final Pattern SIZE = Pattern.compile("([0-9]{1,9})([MGT]?)(?:i?B)?",
      Pattern.CASE_INSENSITIVE);

  @Option(names = "--qemu", paramLabel = "BIN",
      description = "QEMU binary to probe; it is the command's program.")
  String binary;

  @Option(names = "--qemu-version", paramLabel = "X.Y.Z",
      description = "Build for this QEMU version without probing a binary.")
  String version;

  @Option(names = "--memory", paramLabel = "SIZE",
      description = "Guest memory: MiB, or with a unit: 512M, 64G, 1T (default: 16G per GPU).")
  String memory;

  @Option(names = "--cpus", paramLabel = "N",
      description = "Virtual CPUs (default: 4 per GPU).")
  Integer cpus;

  @Option(names = "--firmware", paramLabel = "CODE[,VARS]",
      description = "UEFI firmware code image and this VM's own variable store (default: from"
          + " QEMU's firmware descriptors in share/qemu/firmware, e.g. Debian's ovmf).")
  String firmware;

  @Option(names = "--disk", paramLabel = "PATH", description = "Boot disk (virtio-blk).")
  Path disk;

  @Option(names = "--disk-format", paramLabel = "FORMAT",
      description = "The disk's format (default: read from the image: qcow2, raw, ...).")
  String diskFormat;

  @Option(names = "--accel", paramLabel = "kvm|tcg", defaultValue = "kvm",
      description = "Accelerator (default: ${DEFAULT-VALUE}; tcg runs without KVM, not for GPUs).")
  String accel;

  @Option(names = "--cpu-model", paramLabel = "MODEL", defaultValue = "host",
      description = "Guest CPU model (default: ${DEFAULT-VALUE}; max with --accel tcg).")
  String cpuModel;

  @Option(names = "--qemu-timeout", paramLabel = "SECONDS", defaultValue = "30",
      description = "How long each run of the QEMU binary while probing may take before it is"
          + " killed (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  /** What the capabilities came from, for output. */
  String source;
  private QemuCapabilities capabilities;
  private String program = QemuCommandBuilder.DEFAULT_BINARY;
  private CpuArchitecture hostArchitecture = CpuArchitecture.X86_64;
  private boolean probed;
  private Optional<QemuFirmware> chosenFirmware;
  private String chosenDiskFormat;

  /**
   * The architecture of the host the VM runs on ({@code CpuArchitecture.of} its root): it picks
   * the default binary and the capabilities assumed without one. Call before
   * {@link #capabilities()}.
   */
  void hostArchitecture(CpuArchitecture value) {
    this.hostArchitecture = value;
    this.program = value == CpuArchitecture.AARCH64 ? QemuCommandBuilder.AARCH64_BINARY
        : QemuCommandBuilder.DEFAULT_BINARY;
  }

  /**
   * Checks every option and probes or assumes QEMU once, before a command touches the host: a
   * bad option fails here.
   */
  QemuCapabilities capabilities() {
    if (capabilities == null) {
      memoryMiB(1);
      accelerator();
      if (cpus != null && (cpus < 1 || cpus > 4096)) {
        throw new InvalidValueException("--cpus must be 1..4096, was " + cpus);
      }
      capabilities = findCapabilities();
      chosenFirmware = findFirmware();
      chosenDiskFormat = checkDisk();
    }
    return capabilities;
  }

  private QemuCapabilities findCapabilities() {
    if (timeoutSeconds <= 0) {
      throw new InvalidValueException("--qemu-timeout must be at least 1 second, was "
          + timeoutSeconds);
    }
    if (binary != null && version != null) {
      throw new InvalidValueException("give --qemu or --qemu-version, not both");
    }
    if (binary != null) {
      if (binary.isBlank()) {
        throw new InvalidValueException("--qemu must name a QEMU binary, was empty");
      }
      source = "probed " + binary;
      program = binary;
      probed = true;
      return QemuProbe.probe(CommandRunner.system(), binary, List.of(), timeout());
    }
    if (version != null) {
      QemuVersion given = parseVersionOption(version);
      source = "QEMU " + given.number() + " from --qemu-version (not probed)"
          + archNote();
      return QemuCapabilities.assumed(given, hostArchitecture);
    }
    try {
      QemuCapabilities found = QemuProbe.probe(CommandRunner.system(), program, List.of(),
          timeout());
      source = "probed " + program + " on PATH";
      probed = true;
      return found;
    } catch (CommandException e) {
      if (e.timedOut()) {
        throw e; // installed but hung: never guess past a program that does not answer
      }
      // Not installed here (a control host, a CI machine): assume a version and say so.
    }
    source = "assumed QEMU " + QemuVmPlanner.ASSUMED_VERSION.number() + archNote() + " (no "
        + program
        + " on PATH; pass --qemu BIN to probe the binary the VM will run, or --qemu-version"
        + " X.Y.Z)";
    return QemuCapabilities.assumed(QemuVmPlanner.ASSUMED_VERSION, hostArchitecture);
  }

  private String archNote() {
    return hostArchitecture == CpuArchitecture.X86_64 ? ""
        : " for an " + hostArchitecture.kernelName() + " host";
  }

  /** {@code --qemu-version}: digits only, {@code MAJOR.MINOR[.MICRO]}. */
  static QemuVersion parseVersionOption(String text) {
    Matcher m = VERSION.matcher(text);
    if (!m.matches()) {
      throw new InvalidValueException("--qemu-version '" + Cli.printable(text) + "' is malformed:"
          + " expected MAJOR.MINOR or MAJOR.MINOR.MICRO in ASCII digits, for example 8.2.2");
    }
    return QemuVersion.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
        m.group(3) == null ? 0 : Integer.parseInt(m.group(3)));
  }

  private Optional<QemuFirmware> findFirmware() {
    if (firmware != null) {
      int comma = firmware.indexOf(',');
      String code = comma < 0 ? firmware : firmware.substring(0, comma);
      String vars = comma < 0 ? null : firmware.substring(comma + 1);
      requireFile("--firmware code image", code);
      if (vars == null) {
        return Optional.of(QemuFirmware.of(absolute(code)));
      }
      requireFile("--firmware variable store", vars);
      return Optional.of(QemuFirmware.of(absolute(code), absolute(vars)));
    }
    Optional<QemuFirmware> found = QemuFirmware.find(Sysfs.host(), program);
    if (found.isEmpty() && probed) {
      boolean arm = capabilities.architecture() == CpuArchitecture.AARCH64;
      throw new QemuException("no UEFI firmware for an " + (arm ? "aarch64 virt" : "x86_64 q35")
          + " guest: no descriptor in " + String.join(", ",
              QemuFirmware.searchDirectories(program)) + " names one; install "
          + (arm ? "AAVMF (Debian/Ubuntu: apt-get install qemu-efi-aarch64; Fedora/RHEL: dnf"
              + " install edk2-aarch64)" : "OVMF (Debian/Ubuntu: apt-get install ovmf;"
              + " Fedora/RHEL: dnf install edk2-ovmf)") + " or pass --firmware CODE[,VARS]");
    }
    return found;
  }

  private String checkDisk() {
    if (disk == null) {
      if (diskFormat != null) {
        throw new InvalidValueException("--disk-format needs --disk");
      }
      return null;
    }
    if (diskFormat != null) {
      if (!Files.exists(disk)) {
        throw new InvalidValueException("--disk " + disk + " does not exist");
      }
      return diskFormat;
    }
    return DiskImages.probeFormat(disk);
  }

  private static void requireFile(String what, String path) {
    if (path.isEmpty() || !Files.isRegularFile(Path.of(path))) {
      throw new InvalidValueException(what + " '" + Cli.printable(path) + "' is not a file;"
          + " give CODE or CODE,VARS, paths of existing files (VARS: this VM's own copy of the"
          + " firmware's variable store template)");
    }
  }

  private static String absolute(String path) {
    return Path.of(path).toAbsolutePath().normalize().toString();
  }

  private Accelerator accelerator() {
    return switch (accel) {
      case "kvm" -> Accelerator.KVM;
      case "tcg" -> Accelerator.TCG;
      default -> throw new InvalidValueException("--accel '" + Cli.printable(accel)
          + "' is not kvm or tcg");
    };
  }

  private long memoryMiB(int gpus) {
    if (memory == null) {
      return DEFAULT_MIB_PER_GPU * Math.max(1, gpus);
    }
    Matcher m = SIZE.matcher(memory);
    if (!m.matches()) {
      throw new InvalidValueException("--memory '" + Cli.printable(memory) + "' is not a size:"
          + " give MiB (65536) or a number with M, G or T (64G)");
    }
    long n = Long.parseLong(m.group(1));
    long mib = switch (m.group(2).toUpperCase(Locale.ROOT)) {
      case "G" -> Math.multiplyExact(n, 1024L);
      case "T" -> Math.multiplyExact(n, 1024L * 1024);
      default -> n;
    };
    if (mib < 128) {
      throw new InvalidValueException("--memory " + memory + " is less than the 128 MiB a"
          + " UEFI guest needs");
    }
    return mib;
  }

  private Duration timeout() {
    return Duration.ofSeconds(timeoutSeconds);
  }

  /**
   * The VM planner these options describe: the one {@code provision} gives the provisioner and
   * {@code qemu-args} renders with, so both print the same plan for a lease.
   */
  QemuVmPlanner planner() {
    QemuCapabilities caps = capabilities();
    return QemuVmPlanner.using(devices -> {
      int gpus = devices.gpus().size();
      QemuCommandBuilder b = QemuCommandBuilder.forQemu(caps).binary(program)
          .accelerator(accelerator()).cpuModel(cpuModel)
          .memoryMiB(memoryMiB(gpus))
          .cpus(cpus != null ? cpus : DEFAULT_CPUS_PER_GPU * Math.max(1, gpus))
          .numaPlacement(numaPlacement);
      chosenFirmware.ifPresent(b::firmware);
      if (disk != null) {
        b.disk(absolute(disk.toString()), chosenDiskFormat);
      }
      return b;
    });
  }

  @Option(names = "--numa-placement", description = "Mirror the host's NUMA layout: one guest"
      + " NUMA node and one pxb-pcie expander bus per host node of the VM's GPUs, each GPU's root"
      + " port on its node's bus (off by default: one guest node, every root port on pcie.0).")
  boolean numaPlacement;

  @Option(names = "--libvirt-version", paramLabel = "X.Y.Z", defaultValue = "9.0.0",
      description = "The libvirt that --format libvirt writes the domain XML for (default"
          + " ${DEFAULT-VALUE}, Debian 12's); a feature it lacks is refused, not emitted.")
  String libvirtVersion;

  /** The planner of {@link #planner()} that also renders the libvirt domain. */
  LibvirtVmPlanner libvirtPlanner() {
    return LibvirtVmPlanner.of(planner(), LibvirtVersion.parse(libvirtVersion));
  }

  /** The QEMU command for a lease's devices, from {@link #planner()}. */
  QemuArgs render(Lease lease) {
    return planner().plan(lease);
  }
}
