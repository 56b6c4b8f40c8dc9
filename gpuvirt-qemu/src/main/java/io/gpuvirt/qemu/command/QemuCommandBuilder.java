package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciNames;
import io.gpuvirt.core.pci.PciSizes;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuFirmware;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.command.Decision.Topic;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Turns the devices of one VM into a QEMU command line that gives the guest the PCI hierarchy
 * CUDA needs, and explains each choice.
 *
 * <p>What it emits, and why:
 * <ul>
 *   <li>{@code -machine q35}: only q35 has a PCI Express root complex, and so root ports.</li>
 *   <li>One {@code pcie-root-port} per unit with unique chassis/slot numbers, and the unit's
 *       functions behind it ({@code vfio-pci,host=...,bus=rpN}); companions as functions of one
 *       guest device ({@code multifunction=on}, {@code addr=0x0.0}, {@code 0x0.1}). A B200
 *       placed directly on the root complex fails {@code cuInit} with error 3; behind a root port
 *       it initialises. Cold-plugged ports get {@code hotplug=off}; optional empty hotplug ports
 *       get a {@code pref64-reserve} so a large-BAR device fits when hot-added. Many ports are
 *       packed eight to a slot as functions of multifunction slots.</li>
 *   <li>The {@link LargeBarPolicy}: {@code x-no-mmap=true} on large-BAR devices on QEMU older than
 *       the policy's version when the VM's large BARs reach the policy's total, {@code rombar=0}
 *       when asked.</li>
 *   <li>The 64-bit MMIO aperture ({@link MmioAperture}): {@code -fw_cfg
 *       name=opt/ovmf/X-PciMmio64Mb,string=MiB} when the firmware's default is too small, and the
 *       guest's physical address width ({@code host-phys-bits=on}, {@code host-phys-bits-limit}),
 *       checked against what the aperture needs.</li>
 *   <li>{@code x-nv-gpudirect-clique} on the GPUs when a clique id is given.</li>
 * </ul>
 * Every property is checked against the {@link QemuCapabilities} of the binary; a needed property
 * the binary lacks is a refusal ({@link QemuArgsException}) or, where the VM can run without it,
 * a warning in the plan. Every value is escaped ({@link QemuOption}).
 *
 * <pre>{@code
 * QemuCapabilities caps = QemuProbe.probe(CommandRunner.system(), "qemu-system-x86_64");
 * PassthroughDevices devices = PassthroughDevices.builder()
 *     .add(PassthroughUnit.gpu(topology.device(PciAddress.parse("0000:17:00.0")).orElseThrow()))
 *     .add(PassthroughUnit.gpu(topology.device(PciAddress.parse("0000:3d:00.0")).orElseThrow()))
 *     .gpudirectClique(0)
 *     .build();
 * QemuArgs args = QemuCommandBuilder.forQemu(caps)
 *     .memoryMiB(512 * 1024)
 *     .devices(devices)
 *     .extraArguments(List.of("-smp", "32", "-nographic"))
 *     .build();
 * args.argv();          // qemu-system-x86_64 -machine q35 -accel kvm -cpu host,host-phys-bits=on ...
 * args.plan().forEach(System.out::println);
 * }</pre>
 */
public final class QemuCommandBuilder {
  /** The program name used when none is given. */
  public static final String DEFAULT_BINARY = "qemu-system-x86_64";
  /** The first {@code pcie.0} slot used for root ports when none is given. */
  public static final int DEFAULT_FIRST_ROOT_PORT_SLOT = 0x10;
  /** Root ports take one slot each up to this many, and are packed eight to a slot beyond. */
  public static final int DEFAULT_MAX_ROOT_PORT_SLOTS = 8;

  /** The virtual CPUs when none are given. */
  public static final int DEFAULT_CPUS = 4;
  /**
   * The oldest QEMU the builder renders for unless told otherwise: 2.11, the first with the
   * root-port reservation hints and {@code x-nv-gpudirect-clique}; the generic
   * {@code pcie-root-port} itself came in 2.9 (reference/QEMU.md; both marked unconfirmed there,
   * hence {@link #minimumVersion}).
   */
  public static final QemuVersion DEFAULT_MINIMUM_VERSION = QemuVersion.of(2, 11, 0);
  /** Names for the plan's lines: gpuvirt's own table of the GPUs and NVSwitches it knows. */
  private static final PciNames NAMES = PciNames.builtIn();
  private static final Pattern DISK_FORMAT = Pattern.compile("raw|qcow2|vmdk|vdi|vhdx|vpc|qed");
  private static final int LAST_FREE_SLOT = 0x1e; // 0x1f holds q35's ICH9 functions
  private static final int OVMF_PAGING_MAX_PHYS_BITS = 46;
  private static final long OVMF_MAX_MMIO64_MIB = 0x1000000L; // 16 TiB
  private static final Pattern CPU_MODEL = Pattern.compile("[A-Za-z0-9_.\\-]+");
  private static final String PCIE_ROOT = "pcie.0";
  // pxb-pcie exists in every QEMU the builder renders for (2.11 and newer): not probed
  private static final String PXB_PCIE = "pxb-pcie";
  private static final String IOMMUFD_ID = "iommufd0";
  /** Bus numbers per expander bus: pcie.0 keeps 0..0x1f, node k's bus starts at 0x20 * (k + 1). */
  private static final int EXPANDER_BUS_SPACING = 0x20;

  /** The aarch64 binary's name. */
  public static final String AARCH64_BINARY = "qemu-system-aarch64";
  /**
   * Guest NUMA nodes per GPU on aarch64 with generic initiators: NVIDIA's Grace layout, 8 (the
   * first for the device's memory, 7 for MIG instances; reference NEXT.md §5, OpenNebula's
   * {@code ACPI_NODES="2-9"}). Inferred from designs, not a kernel requirement:
   * {@link #gpuNumaNodes} changes it.
   */
  public static final int DEFAULT_GPU_NUMA_NODES = 8;
  /** QEMU that has {@code acpi-generic-initiator} with the BDF-order fix (NEXT.md §5). */
  static final QemuVersion GENERIC_INITIATOR_VERSION = QemuVersion.of(9, 2, 0);
  /** QEMU whose {@code virt} machine takes {@code highmem-mmio-size} (NEXT.md §5). */
  static final QemuVersion HIGHMEM_MMIO_SIZE_VERSION = QemuVersion.of(10, 0, 0);
  /** The {@code virt} machine's high PCIe MMIO window before {@code highmem-mmio-size}. */
  static final long VIRT_HIGH_MMIO_BYTES = 512L << 30;
  /** Bus numbers per per-GPU expander bus on aarch64 (a pxb-pcie and its one root port). */
  private static final int GPU_EXPANDER_BUS_SPACING = 0x10;

  private final QemuCapabilities caps;
  private String binary;
  private Accelerator accelerator = Accelerator.KVM;
  private String cpuModel = "host";
  private PhysBits physBits = PhysBits.host();
  private OptionalInt hostAddressBits = OptionalInt.empty();
  private long memoryMiB;
  private int cpus = DEFAULT_CPUS;
  private QemuFirmware firmware;
  private String diskPath;
  private String diskFormat;
  private PassthroughDevices devices;
  private int hotplugPorts;
  private LargeBarPolicy policy = LargeBarPolicy.defaults();
  private int firstRootPortSlot = DEFAULT_FIRST_ROOT_PORT_SLOT;
  private int maxRootPortSlots = DEFAULT_MAX_ROOT_PORT_SLOTS;
  private List<String> extraArguments = List.of();
  private QemuVersion minimumVersion = DEFAULT_MINIMUM_VERSION;
  private boolean numaPlacement;
  private HostIommufd hostIommufd;
  private boolean guestSmmu;
  private int gpuNumaNodes = DEFAULT_GPU_NUMA_NODES;

  private QemuCommandBuilder(QemuCapabilities caps) {
    this.caps = Objects.requireNonNull(caps, "capabilities");
  }

  /** A builder for the binary these capabilities were probed from. */
  public static QemuCommandBuilder forQemu(QemuCapabilities capabilities) {
    return new QemuCommandBuilder(capabilities);
  }

  /**
   * The program, first element of the argv; by default {@value #DEFAULT_BINARY}, or
   * {@value #AARCH64_BINARY} when the capabilities are an aarch64 binary's
   * ({@link QemuCapabilities#architecture()}: the architecture is the capabilities' data, and
   * decides machine, firmware, CPU, layout and which options apply).
   */
  public QemuCommandBuilder binary(String value) {
    if (value == null || value.isBlank()) {
      throw new InvalidValueException("QEMU binary must not be blank");
    }
    this.binary = value;
    return this;
  }

  /** The accelerator; {@link Accelerator#KVM} by default. */
  public QemuCommandBuilder accelerator(Accelerator value) {
    this.accelerator = Objects.requireNonNull(value, "accelerator");
    return this;
  }

  /**
   * The CPU model; {@code host} by default. Its QOM type ({@code MODEL-x86_64-cpu}) must have been
   * probed, so that the builder knows its properties.
   */
  public QemuCommandBuilder cpuModel(String value) {
    if (value == null || !CPU_MODEL.matcher(value).matches()) {
      throw new InvalidValueException("CPU model '" + value
          + "' may only contain letters, digits, '_', '.' and '-'");
    }
    this.cpuModel = value;
    return this;
  }

  /** The guest's physical address width; {@link PhysBits#host()} by default. */
  public QemuCommandBuilder physBits(PhysBits value) {
    this.physBits = Objects.requireNonNull(value, "physBits");
    return this;
  }

  /**
   * The host CPU's physical address bits ({@code address sizes} in {@code /proc/cpuinfo}), when
   * known: the builder then refuses a VM whose aperture needs more.
   */
  public QemuCommandBuilder hostAddressBits(int bits) {
    if (bits < 32 || bits > 52) {
      throw new InvalidValueException("host address bits must be 32..52, was " + bits);
    }
    this.hostAddressBits = OptionalInt.of(bits);
    return this;
  }

  /** Guest RAM in MiB ({@code -m}); required. */
  public QemuCommandBuilder memoryMiB(long value) {
    if (value <= 0) {
      throw new InvalidValueException("guest memory must be positive MiB, was " + value);
    }
    this.memoryMiB = value;
    return this;
  }

  /** Virtual CPUs ({@code -smp}); {@value #DEFAULT_CPUS} by default. */
  public QemuCommandBuilder cpus(int value) {
    if (value < 1 || value > 4096) {
      throw new InvalidValueException("virtual CPU count must be 1..4096, was " + value);
    }
    this.cpus = value;
    return this;
  }

  /**
   * The UEFI firmware ({@link QemuFirmware#find} finds the host's); none by default, which leaves
   * QEMU's default firmware (SeaBIOS, which cannot place large 64-bit BARs) and adds a warning to
   * the plan.
   */
  public QemuCommandBuilder firmware(QemuFirmware value) {
    this.firmware = Objects.requireNonNull(value, "firmware");
    return this;
  }

  /**
   * A boot disk as a virtio-blk device; none by default.
   *
   * @param path the image or block device, absolute
   * @param format its format: {@code raw}, {@code qcow2}, {@code vmdk}, {@code vdi}, {@code
   *     vhdx}, {@code vpc} or {@code qed} ({@link DiskImages#probeFormat} reads it from an image)
   */
  public QemuCommandBuilder disk(String path, String format) {
    if (path == null || !path.startsWith("/") || path.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      throw new InvalidValueException("disk '" + path + "' must be an absolute path without"
          + " control characters");
    }
    if (format == null || !DISK_FORMAT.matcher(format).matches()) {
      throw new InvalidValueException("disk format '" + format + "' is not one of raw, qcow2,"
          + " vmdk, vdi, vhdx, vpc, qed");
    }
    this.diskPath = path;
    this.diskFormat = format;
    return this;
  }

  /**
   * aarch64 only: a virtual SMMUv3 for the guest ({@code -machine virt,iommu=smmuv3}); off by
   * default.
   */
  public QemuCommandBuilder guestSmmu(boolean value) {
    this.guestSmmu = value;
    return this;
  }

  /**
   * aarch64 only: how many CPU-less, memory-less guest NUMA nodes each GPU gets when QEMU has
   * generic initiators (1..16; {@value #DEFAULT_GPU_NUMA_NODES} by default, NVIDIA's layout).
   */
  public QemuCommandBuilder gpuNumaNodes(int count) {
    if (count < 1 || count > 16) {
      throw new InvalidValueException("GPU NUMA nodes per GPU must be 1..16, was " + count);
    }
    this.gpuNumaNodes = count;
    return this;
  }

  /** The devices to pass through; required. */
  public QemuCommandBuilder devices(PassthroughDevices value) {
    this.devices = Objects.requireNonNull(value, "devices");
    return this;
  }

  /**
   * NUMA placement (off by default): when the devices sit on two or more host NUMA nodes, the
   * guest gets one NUMA node per host node (memory and CPUs split evenly) and one {@code pxb-pcie}
   * expander bus per node, tied to it, with the root ports of that node's devices behind it, so
   * the guest sees each GPU on the node of its memory and CPUs, as OpenNebula lays it out. Off,
   * every root port is on {@code pcie.0} and the guest has one node. It needs at least as many
   * virtual CPUs as nodes. Hotplug ports stay on {@code pcie.0}.
   */
  public QemuCommandBuilder numaPlacement(boolean value) {
    this.numaPlacement = value;
    return this;
  }

  /**
   * What the host offers for iommufd ({@link HostIommufd#probe}). With it, the devices are given
   * through {@code -object iommufd} and {@code vfio-pci,iommufd=} when the host has iommufd and
   * the probed QEMU's vfio-pci has the {@code iommufd} property (QEMU 9.0+); otherwise, and
   * without it, through legacy VFIO groups. The plan says which and why.
   */
  public QemuCommandBuilder hostIommufd(HostIommufd value) {
    this.hostIommufd = Objects.requireNonNull(value, "hostIommufd");
    return this;
  }

  /** Empty hotplug root ports to add after the cold-plugged ones; 0 by default. */
  public QemuCommandBuilder hotplugPorts(int count) {
    if (count < 0) {
      throw new InvalidValueException("hotplug port count must not be negative, was " + count);
    }
    this.hotplugPorts = count;
    return this;
  }

  /** The large-BAR policy; {@link LargeBarPolicy#defaults()} by default. */
  public QemuCommandBuilder largeBarPolicy(LargeBarPolicy value) {
    this.policy = Objects.requireNonNull(value, "largeBarPolicy");
    return this;
  }

  /**
   * The first {@code pcie.0} slot for root ports, 0x01 to 0x1e; {@code 0x10} by default, which
   * leaves 0x02 to 0x0f for the caller's own devices.
   */
  public QemuCommandBuilder firstRootPortSlot(int slot) {
    if (slot < 1 || slot > LAST_FREE_SLOT) {
      throw new InvalidValueException("first root port slot must be 0x01..0x1e, was 0x"
          + Integer.toHexString(slot));
    }
    this.firstRootPortSlot = slot;
    return this;
  }

  /**
   * Up to this many root ports take a slot each; more are packed eight to a slot (functions of a
   * multifunction slot). 8 by default.
   */
  public QemuCommandBuilder maxRootPortSlots(int slots) {
    if (slots < 1) {
      throw new InvalidValueException("max root port slots must be positive, was " + slots);
    }
    this.maxRootPortSlots = slots;
    return this;
  }

  /**
   * Arguments appended as given (disks, network, display, {@code -smp}). They are not escaped:
   * build option values with {@link QemuOption}.
   */
  public QemuCommandBuilder extraArguments(List<String> args) {
    this.extraArguments = List.copyOf(args);
    return this;
  }

  /**
   * The oldest QEMU release to render for (default {@link #DEFAULT_MINIMUM_VERSION}); lower it for
   * a distribution build that backports what GPU passthrough needs.
   */
  public QemuCommandBuilder minimumVersion(QemuVersion value) {
    this.minimumVersion = Objects.requireNonNull(value, "minimumVersion");
    return this;
  }

  /**
   * Builds the command and its plan.
   *
   * @throws QemuArgsException when the binary lacks something the VM needs or the devices do not
   *     fit; the message names what and the fix
   */
  public QemuArgs build() {
    if (devices == null) {
      throw new IllegalStateException("no devices given; call devices(...) before build()");
    }
    if (memoryMiB == 0) {
      throw new IllegalStateException("no guest memory given; call memoryMiB(...) before build()");
    }
    return new Plan().build();
  }

  private boolean arm() {
    return caps.architecture() == CpuArchitecture.AARCH64;
  }

  private String binaryName() {
    return binary != null ? binary : arm() ? AARCH64_BINARY : DEFAULT_BINARY;
  }

  /** One build: collects argv and decisions. */
  private final class Plan {
    private final List<String> argv = new ArrayList<>();
    private final List<Decision> plan = new ArrayList<>();
    private final List<RootPort> ports = new ArrayList<>();
    private final List<PlacedDevice> placed = new ArrayList<>();
    private final List<ExpanderBus> expanders = new ArrayList<>();
    private final List<GuestMachine.NumaNode> numaNodes = new ArrayList<>();
    private final List<GuestMachine.GpuNode> gpuNodes = new ArrayList<>();
    private final String binary = binaryName();
    private String machineOption;

    QemuArgs build() {
      if (!caps.version().isAtLeast(minimumVersion)) {
        throw new QemuArgsException(binary + " is QEMU " + caps.version() + ", older than "
            + minimumVersion.number() + ", the oldest gpuvirt renders a GPU passthrough command"
            + " for (a generic pcie-root-port per GPU with reservation hints); install QEMU "
            + minimumVersion.number() + " or newer (Debian 12 ships 7.2), or lower"
            + " QemuCommandBuilder.minimumVersion if this build backports them");
      }
      if (guestSmmu && !arm()) {
        throw new QemuArgsException("guestSmmu is for aarch64 guests (virt,iommu=smmuv3); "
            + binary + " builds x86_64 q35 guests");
      }
      argv.add(binary);
      MmioAperture aperture = aperture();
      if (arm()) {
        armMachine(aperture);
      } else {
        machine();
      }
      accelerator();
      firmware();
      List<QemuOption> deviceOptions = devicesAndPorts();
      int requiredBits = aperture.requiredPhysBits(memoryMiB << 20);
      QemuOption cpu = arm() ? armCpu() : cpu(requiredBits, aperture);
      argv.add("-cpu");
      argv.add(cpu.render());
      argv.add("-m");
      argv.add(Long.toString(memoryMiB));
      plan.add(Decision.of(Topic.MEMORY, "vm", "-m " + memoryMiB,
          "guest RAM in MiB; the firmware places the 64-bit MMIO aperture above it, so it counts"
              + " toward the address width the aperture needs"));
      argv.add("-smp");
      argv.add(Integer.toString(cpus));
      plan.add(Decision.of(Topic.CPUS, "vm", "-smp " + cpus, "virtual CPUs"));
      for (GuestMachine.NumaNode n : numaNodes) {
        argv.add("-object");
        argv.add(QemuOption.of("memory-backend-ram").with("id", "ram-node" + n.id())
            .with("size", n.memoryMiB() + "M").render());
        argv.add("-numa");
        argv.add(QemuOption.of("node").with("nodeid", n.id()).with("cpus", n.cpuRange())
            .with("memdev", "ram-node" + n.id()).render());
      }
      for (GuestMachine.GpuNode n : gpuNodes) {
        argv.add("-numa");
        argv.add(QemuOption.of("node").with("nodeid", n.nodeId()).render());
      }
      for (ExpanderBus x : expanders) {
        argv.add("-device");
        argv.add(x.option().render());
      }
      for (RootPort p : ports) {
        argv.add("-device");
        argv.add(p.option().render());
      }
      for (QemuOption o : deviceOptions) {
        argv.add("-device");
        argv.add(o.render());
      }
      for (GuestMachine.GpuNode n : gpuNodes) {
        argv.add("-object");
        argv.add(QemuOption.of(QemuCapabilities.ACPI_GENERIC_INITIATOR).with("id", n.initiator())
            .with("pci-dev", n.device()).with("node", n.nodeId()).render());
      }
      Optional<QemuOption> fwCfg = arm() ? armAperture(aperture) : fwCfg(aperture);
      disk();
      argv.addAll(extraArguments);
      GuestMachine machine = new GuestMachine(binary, accelerator,
          firmware != null && firmware.requiresSmm(), cpu, memoryMiB, cpus,
          Optional.ofNullable(firmware), diskPath == null ? Optional.empty()
              : Optional.of(new GuestMachine.Disk(diskPath, diskFormat)), fwCfg, extraArguments,
          numaNodes, caps.architecture(), machineOption, gpuNodes);
      return new QemuArgs(argv, plan, ports, placed, aperture, requiredBits, caps.version(),
          machine, expanders);
    }

    private void machine() {
      if (!caps.hasMachine("q35")) {
        throw new QemuArgsException(binary + " " + caps.version() + " has no q35 machine type;"
            + " GPU passthrough needs q35's PCI Express root complex; install a qemu-system-x86"
            + " build with q35");
      }
      boolean smm = firmware != null && firmware.requiresSmm();
      String machine = smm ? "q35,smm=on" : "q35";
      argv.add("-machine");
      argv.add(machine);
      machineOption = machine;
      plan.add(Decision.of(Topic.MACHINE, "vm", "-machine " + machine,
          "q35 has a PCI Express root complex; only there can devices sit behind PCIe root ports,"
              + " the hierarchy the NVIDIA driver expects (i440fx is conventional PCI)"
              + (smm ? "; smm=on because the firmware requires SMM" : "")));
    }

    private void firmware() {
      if (firmware == null && arm()) {
        plan.add(Decision.of(Topic.FIRMWARE, "vm", "no firmware",
            "no UEFI firmware given: the virt machine then boots only a -kernel given in the extra"
                + " arguments, and nothing enumerates PCI for a firmware-booted guest; install"
                + " AAVMF (Debian's qemu-efi-aarch64) or give the firmware").asWarning());
        return;
      }
      if (firmware == null) {
        plan.add(Decision.of(Topic.FIRMWARE, "vm", "QEMU's default firmware (SeaBIOS)",
            "no UEFI firmware given: SeaBIOS cannot place the 64-bit BARs of large-BAR GPUs, and"
                + " opt/ovmf/X-PciMmio64Mb is OVMF's; install OVMF (Debian's ovmf, Fedora's"
                + " edk2-ovmf) or give the firmware").asWarning());
        return;
      }
      if (firmware.requiresSmm()) {
        argv.add("-global");
        argv.add("driver=cfi.pflash01,property=secure,value=on");
      }
      QemuOption code = QemuOption.of().with("if", "pflash").with("format", firmware.codeFormat())
          .with("unit", 0).with("file", firmware.code()).with("readonly", true);
      argv.add("-drive");
      argv.add(code.render());
      String choice = "code " + firmware.code();
      String reason = arm() ? "UEFI firmware (AAVMF) from " + firmware.source() + ": it"
          + " enumerates the PCIe hierarchy and places the devices' BARs in the virt machine's"
          + " high MMIO window (ACPI, as the NVIDIA driver expects on Grace)"
          : "UEFI firmware (OVMF) from " + firmware.source() + ": it places the 64-bit"
          + " MMIO aperture the large BARs need";
      if (firmware.vars().isPresent()) {
        QemuOption vars = QemuOption.of().with("if", "pflash")
            .with("format", firmware.varsFormat()).with("unit", 1)
            .with("file", firmware.vars().get());
        if (firmware.varsTemplate()) {
          vars = vars.with("snapshot", true);
        }
        argv.add("-drive");
        argv.add(vars.render());
        choice += ", variables " + firmware.vars().get()
            + (firmware.varsTemplate() ? " (snapshot=on)" : "");
        if (firmware.varsTemplate()) {
          reason += "; the variable store is the shared template, attached with snapshot=on so"
              + " it is never written: UEFI variables (boot order) are lost when the VM stops;"
              + " to keep them, copy the template for this VM and give CODE,VARS";
        }
      }
      if (firmware.requiresSmm()) {
        reason += "; the firmware requires SMM: smm=on and a secure flash";
      }
      plan.add(Decision.of(Topic.FIRMWARE, "vm", choice, reason));
    }

    private void disk() {
      if (diskPath == null) {
        return;
      }
      argv.add("-drive");
      argv.add(QemuOption.of().with("if", "none").with("id", "disk0").with("format", diskFormat)
          .with("file", diskPath).render());
      argv.add("-device");
      argv.add(QemuOption.of("virtio-blk-pci").with("drive", "disk0").with("bootindex", 1)
          .render());
      plan.add(Decision.of(Topic.DISK, "disk0", "virtio-blk-pci " + diskPath + " (" + diskFormat
          + ")", "the boot disk as a virtio block device on pcie.0, placed by QEMU in a free slot"
          + " below the root ports"));
    }

    private void accelerator() {
      if (!caps.hasAccelerator(accelerator.qemuName())) {
        throw new QemuArgsException(binary + " " + caps.version() + " has no '"
            + accelerator.qemuName() + "' accelerator (it has " + caps.accelerators()
            + "); install a build with it or choose another accelerator");
      }
      argv.add("-accel");
      argv.add(accelerator.qemuName());
      plan.add(Decision.of(Topic.ACCELERATOR, "vm", "-accel " + accelerator.qemuName(),
          accelerator == Accelerator.KVM
              ? "device passthrough runs the guest on KVM"
              : "TCG emulation: boots the layout without KVM (tests); GPU guests run on KVM"));
    }

    private QemuOption cpu(int requiredBits, MmioAperture aperture) {
      String type = cpuModel + "-x86_64-cpu";
      if (!caps.isProbed(type)) {
        throw new QemuArgsException("CPU model '" + cpuModel + "': its type " + type + " was not"
            + " probed, so its properties are unknown; probe it with QemuProbe.probe(runner, \""
            + binary + "\", List.of(\"" + type + "\"))");
      }
      if (!caps.hasDevice(type)) {
        throw new QemuArgsException(binary + " " + caps.version() + " has no CPU model '"
            + cpuModel + "'; choose one from '" + binary + " -cpu help'");
      }
      QemuOption cpu = QemuOption.of(cpuModel);
      String need = "the passthrough BARs need a " + Sizes.of(aperture.sizeBytes())
          + " aperture which, placed after " + Sizes.of(memoryMiB << 20) + " of RAM, ends"
          + " below 2^" + requiredBits;
      if (physBits.mode() == PhysBits.Mode.HOST) {
        requireProperty(type, "host-phys-bits", "the guest's physical address width");
        cpu = cpu.with("host-phys-bits", true);
        int ceiling = hostAddressBits.orElse(52);
        String choice = "host-phys-bits=on";
        if (physBits.bits().isPresent()) {
          int limit = physBits.bits().getAsInt();
          requireProperty(type, "host-phys-bits-limit", "capping the guest's address width");
          cpu = cpu.with("host-phys-bits-limit", limit);
          choice += ",host-phys-bits-limit=" + limit;
          ceiling = Math.min(ceiling, limit);
        }
        if (requiredBits > ceiling) {
          throw new QemuArgsException("guest address width: " + need + ", but the guest gets at"
              + " most " + ceiling + " bits (" + choice + hostAddressBits.stream()
                  .mapToObj(b -> ", host has " + b).findFirst().orElse("") + "); give the VM"
              + " fewer large-BAR devices or less RAM, or raise the limit if the host IOMMU"
              + " allows it");
        }
        String reason = "the guest gets the host CPU's physical address width, so the firmware"
            + " knows it and can place the 64-bit aperture (named CPU models claim 40 bits); "
            + need + (hostAddressBits.isPresent()
                ? ", within the host's " + hostAddressBits.getAsInt() + " bits"
                : ", so the host needs at least " + requiredBits + " address bits");
        if (physBits.bits().isPresent()) {
          reason += "; host-phys-bits-limit keeps guest addresses within what the host IOMMU can"
              + " map (BARs above it fail with 'vfio: DMA mapping failed')";
        }
        plan.add(Decision.of(Topic.CPU, "vm", "-cpu " + cpuModel + "," + choice, reason));
      } else {
        int bits = physBits.bits().getAsInt();
        requireProperty(type, "phys-bits", "the guest's physical address width");
        if (requiredBits > bits) {
          throw new QemuArgsException("guest address width: " + need + ", but phys-bits=" + bits
              + "; raise phys-bits to at least " + requiredBits
              + " (no more than the host's width)");
        }
        String choice = "phys-bits=" + bits;
        if (caps.hasProperty(type, "host-phys-bits")) {
          // The host and max models default to host-phys-bits=on under KVM, which makes QEMU
          // ignore phys-bits: turn it off so the fixed width is the one the guest gets.
          cpu = cpu.with("host-phys-bits", false);
          choice = "host-phys-bits=off," + choice;
        }
        cpu = cpu.with("phys-bits", bits);
        plan.add(Decision.of(Topic.CPU, "vm", "-cpu " + cpuModel + "," + choice,
            "a fixed guest physical address width; " + need));
      }
      if (requiredBits > OVMF_PAGING_MAX_PHYS_BITS) {
        plan.add(Decision.of(Topic.CPU, "vm", "needs " + requiredBits + " address bits",
            "OVMF with 4-level paging uses at most " + OVMF_PAGING_MAX_PHYS_BITS + " bits; the"
                + " aperture may not be placed").asWarning());
      }
      return cpu;
    }

    private List<QemuOption> devicesAndPorts() {
      if (!caps.hasDevice(QemuCapabilities.PCIE_ROOT_PORT)) {
        throw new QemuArgsException(binary + " " + caps.version() + " has no pcie-root-port"
            + " device (or it was not probed); a GPU must sit behind a root port; use QEMU 2.9"
            + " or newer and probe with QemuProbe.probe");
      }
      if (!caps.hasDevice(QemuCapabilities.VFIO_PCI)) {
        throw new QemuArgsException(binary + " " + caps.version() + " has no vfio-pci device"
            + " (or it was not probed); install a QEMU built with VFIO");
      }
      List<PassthroughUnit> units = devices.units();
      int total = units.size() + hotplugPorts;
      if (total > 255) {
        throw new QemuArgsException(total + " root ports requested; chassis numbers are 8-bit,"
            + " so at most 255; use fewer hotplug ports");
      }
      List<Integer> hostNodes = numaNodes(units);
      boolean numa = hostNodes.size() > 1;
      boolean perUnit = arm();
      boolean packed = !numa && !perUnit && total > maxRootPortSlots;
      int slotsUsed = numa ? hostNodes.size() + hotplugPorts : packed ? (total + 7) / 8 : total;
      if (perUnit && units.size() > 0xf0 / GPU_EXPANDER_BUS_SPACING - 1) {
        throw new QemuArgsException(units.size() + " devices need an expander bus each on"
            + " aarch64, more than the " + (0xf0 / GPU_EXPANDER_BUS_SPACING - 1) + " that fit in"
            + " the 256 bus numbers; give the VM fewer devices");
      }
      int lastSlot = firstRootPortSlot + slotsUsed - 1;
      if (lastSlot > LAST_FREE_SLOT) {
        throw new QemuArgsException(total + " root ports need pcie.0 slots 0x"
            + Integer.toHexString(firstRootPortSlot) + "..0x" + Integer.toHexString(lastSlot)
            + ", past 0x1e (0x1f holds q35's ICH9 functions); lower firstRootPortSlot or"
            + " maxRootPortSlots, or use fewer hotplug ports");
      }
      boolean hotplugOff = caps.hasProperty(QemuCapabilities.PCIE_ROOT_PORT, "hotplug");
      plan.add(Decision.of(Topic.ROOT_PORT, portList(0, units.size()),
          units.size() + " x pcie-root-port, one per unit, each device at bus=<port>",
          "a GPU placed directly on the root complex fails cuInit with error 3 on HGX B200;"
              + " behind a PCIe root port, as on the host, CUDA initialises (Ubicloud's B200"
              + " report); QEMU's docs/pcie.txt also asks for passed-through devices behind"
              + " root ports"));
      if (numa) {
        numaLayout(units, hostNodes);
      }
      if (perUnit) {
        gpuLayout(units);
      }
      plan.add(Decision.of(Topic.ROOT_PORT, "pcie.0", perUnit
              ? "expander buses at slots 0x" + Integer.toHexString(firstRootPortSlot) + "..0x"
                  + Integer.toHexString(firstRootPortSlot + units.size() - 1)
                  + (hotplugPorts > 0 ? ", hotplug ports after them" : "")
              : numa
              ? "expander buses at slots 0x" + Integer.toHexString(firstRootPortSlot) + "..0x"
                  + Integer.toHexString(firstRootPortSlot + hostNodes.size() - 1)
                  + (hotplugPorts > 0 ? ", hotplug ports after them" : "")
              : packed
              ? "packed: slots 0x" + Integer.toHexString(firstRootPortSlot) + "..0x"
                  + Integer.toHexString(lastSlot) + ", 8 ports per slot, multifunction=on"
              : "one slot per port: 0x" + Integer.toHexString(firstRootPortSlot) + "..0x"
                  + Integer.toHexString(lastSlot),
          perUnit ? "each device's root port sits alone on its own expander bus (slot 0), as on"
              + " a Grace host, where every GPU has a root port and PCI segment of its own"
              : numa ? "each node's root ports sit on its expander bus, one per slot"
              : packed
              ? total + " ports are more than " + maxRootPortSlots + " slots; packing them as"
                  + " functions of multifunction slots leaves pcie.0 slots for other devices"
              : total + " ports fit in " + maxRootPortSlots + " slots without multifunction"));
      if (hotplugOff) {
        plan.add(Decision.of(Topic.ROOT_PORT, portList(0, units.size()), "hotplug=off",
            "the devices are cold-plugged; without the hotplug capability the guest cannot"
                + " eject a GPU it depends on"));
      } else {
        plan.add(Decision.of(Topic.ROOT_PORT, portList(0, units.size()), "hotplug left default",
            "QEMU " + caps.version().number() + "'s pcie-root-port has no 'hotplug' property"
                + " (QEMU 5.0 and later have it); the guest sees hotplug-capable slots").asWarning());
      }
      List<QemuOption> out = new ArrayList<>();
      int[] onNode = new int[hostNodes.size()];
      for (int i = 0; i < total; i++) {
        boolean hotplug = i >= units.size();
        String id = hotplug ? "hp" + (i - units.size()) : "rp" + i;
        String bus = PCIE_ROOT;
        int slot = packed ? firstRootPortSlot + i / 8 : firstRootPortSlot + i;
        int fn = packed ? i % 8 : 0;
        if (perUnit && !hotplug) {
          bus = expanders.get(i).id();
          slot = 0;
        } else if (perUnit) {
          slot = firstRootPortSlot + units.size() + (i - units.size());
        } else if (numa && !hotplug) {
          int k = hostNodes.indexOf(units.get(i).primary().numaNode());
          bus = expanders.get(k).id();
          slot = onNode[k]++;
        } else if (numa) {
          slot = firstRootPortSlot + hostNodes.size() + (i - units.size());
        }
        String addr = String.format("0x%x.%d", slot, fn);
        QemuOption port = QemuOption.of(QemuCapabilities.PCIE_ROOT_PORT).with("id", id)
            .with("bus", bus).with("addr", addr);
        if (packed && fn == 0) {
          port = port.with("multifunction", true);
        }
        port = port.with("chassis", i + 1).with("slot", i + 1);
        if (!hotplug && hotplugOff) {
          port = port.with("hotplug", false);
        }
        if (hotplug && pref64Supported()) {
          port = port.with("pref64-reserve", PciSizes.human(policy.hotplugPref64ReserveBytes()));
        }
        ports.add(new RootPort(id, addr, i + 1, i + 1, hotplug, port));
      }
      if (hotplugPorts > 0) {
        hotplugDecision();
      }
      NoMmap noMmap = noMmap(units);
      boolean clique = clique();
      boolean iommufd = iommufd();
      for (int u = 0; u < units.size(); u++) {
        PassthroughUnit unit = units.get(u);
        List<PciDevice> fns = unit.functions();
        String portId = "rp" + u;
        for (int f = 0; f < fns.size(); f++) {
          PciDevice d = fns.get(f);
          String id = f == 0 ? "hostdev" + u : "hostdev" + u + "." + f;
          QemuOption o = QemuOption.of(QemuCapabilities.VFIO_PCI)
              .with("host", d.address().toString()).with("id", id).with("bus", portId)
              .with("addr", "0x0." + f);
          if (f == 0 && fns.size() > 1) {
            o = o.with("multifunction", true);
          }
          if (noMmap.applies(d)) {
            o = o.with("x-no-mmap", "true");
          }
          if (policy.romBarOff() && unit.role() == PassthroughUnit.Role.GPU
              && caps.hasProperty(QemuCapabilities.VFIO_PCI, "rombar")) {
            o = o.with("rombar", 0);
          }
          if (clique && f == 0 && unit.role() == PassthroughUnit.Role.GPU) {
            o = o.with("x-nv-gpudirect-clique", devices.gpudirectClique().getAsInt());
          }
          if (iommufd) {
            o = o.with("iommufd", IOMMUFD_ID);
          }
          placed.add(new PlacedDevice(d.address(), id, portId, f, unit.role(), o));
          out.add(o);
        }
        plan.add(deviceDecision(u, unit));
      }
      romBarDecision(units);
      return out;
    }

    /**
     * The host NUMA nodes of the units, sorted, when NUMA placement is asked for and every unit's
     * node is known; otherwise (and with a decision saying why) none.
     */
    private List<Integer> numaNodes(List<PassthroughUnit> units) {
      if (arm()) {
        return List.of(); // aarch64 has its own layout: an expander bus per GPU (gpuLayout)
      }
      if (!numaPlacement) {
        return List.of();
      }
      if (units.stream().anyMatch(u -> u.primary().numaNode() < 0)) {
        plan.add(Decision.of(Topic.NUMA, "vm", "one guest NUMA node, every root port on pcie.0",
            "NUMA placement was asked for, but the host reports no NUMA node (numa_node -1) for "
                + units.stream().filter(u -> u.primary().numaNode() < 0)
                    .map(u -> u.primary().address().toString()).collect(Collectors.joining(", "))
                + "; there is nothing to mirror").asWarning());
        return List.of();
      }
      List<Integer> nodes = units.stream().map(u -> u.primary().numaNode()).distinct().sorted()
          .toList();
      if (nodes.size() < 2) {
        plan.add(Decision.of(Topic.NUMA, "vm", "one guest NUMA node, every root port on pcie.0",
            "NUMA placement was asked for, and every device is on host node "
                + (nodes.isEmpty() ? "-" : nodes.get(0)) + ": one node has nothing to place"));
        return List.of();
      }
      if (cpus < nodes.size()) {
        throw new QemuArgsException(cpus + " virtual CPU(s) cannot fill the " + nodes.size()
            + " guest NUMA nodes of NUMA placement (host nodes " + nodes + "); give at least "
            + nodes.size() + " CPUs, or turn NUMA placement off");
      }
      if (memoryMiB < nodes.size()) {
        throw new QemuArgsException(memoryMiB + " MiB cannot be split over " + nodes.size()
            + " guest NUMA nodes; give more memory");
      }
      return nodes;
    }

    /** One guest node and one expander bus per host node; CPUs and memory split evenly. */
    private void numaLayout(List<PassthroughUnit> units, List<Integer> hostNodes) {
      int n = hostNodes.size();
      int firstCpu = 0;
      for (int k = 0; k < n; k++) {
        int cpuCount = cpus / n + (k < cpus % n ? 1 : 0);
        long mem = memoryMiB / n + (k == n - 1 ? memoryMiB % n : 0);
        numaNodes.add(new GuestMachine.NumaNode(k, hostNodes.get(k), firstCpu, cpuCount, mem));
        firstCpu += cpuCount;
        int busNr = EXPANDER_BUS_SPACING * (k + 1);
        String addr = String.format("0x%x.0", firstRootPortSlot + k);
        QemuOption pxb = QemuOption.of(PXB_PCIE).with("id", "pxb" + k).with("bus_nr", busNr)
            .with("numa_node", k).with("bus", PCIE_ROOT).with("addr", addr);
        expanders.add(new ExpanderBus("pxb" + k, busNr, k, hostNodes.get(k), addr, pxb));
        int node = hostNodes.get(k);
        String here = units.stream().filter(u -> u.primary().numaNode() == node)
            .map(u -> u.primary().address().toString()).collect(Collectors.joining(", "));
        plan.add(Decision.of(Topic.NUMA, "pxb" + k, "guest node " + k + " (CPUs "
                + numaNodes.get(k).cpuRange() + ", " + mem + " MiB) with pxb-pcie bus_nr=" + busNr
                + " at pcie.0 " + addr,
            "host node " + node + " holds " + here + "; behind an expander bus tied to guest node "
                + k + " the guest sees them on the node of that memory and those CPUs (the"
                + " driver and NCCL place work by it)"));
      }
      long largest = units.stream().collect(Collectors.groupingBy(u -> u.primary().numaNode(),
          Collectors.counting())).values().stream().mapToLong(Long::longValue).max().orElse(0);
      if (largest > EXPANDER_BUS_SPACING - 1) {
        throw new QemuArgsException(largest + " devices on one NUMA node need more root ports"
            + " than an expander bus's " + (EXPANDER_BUS_SPACING - 1) + " bus numbers; turn NUMA"
            + " placement off");
      }
    }

    /**
     * aarch64: {@code virt} with GIC v3 (the interrupt controller KVM on Grace offers and the only
     * one with ITS for MSIs), {@code highmem=on} (the PCIe MMIO window above 4 GiB the large BARs
     * need), {@code iommu=smmuv3} when asked, and on QEMU 10.0+ {@code highmem-mmio-size} when
     * the devices need more than the 512 GiB window.
     */
    private void armMachine(MmioAperture aperture) {
      if (!caps.hasMachine("virt")) {
        throw new QemuArgsException(binary + " " + caps.version() + " has no virt machine type;"
            + " aarch64 GPU passthrough needs virt's PCI Express root complex; install"
            + " qemu-system-arm (Debian) or a qemu-system-aarch64 build with virt");
      }
      QemuOption m = QemuOption.of("virt").with("gic-version", 3);
      if (guestSmmu) {
        m = m.with("iommu", "smmuv3");
      }
      m = m.with("highmem", true);
      boolean bigger = aperture.sizeBytes() > VIRT_HIGH_MMIO_BYTES
          && caps.version().isAtLeast(HIGHMEM_MMIO_SIZE_VERSION);
      if (bigger) {
        m = m.with("highmem-mmio-size", (aperture.sizeBytes() >> 30) + "G");
      }
      machineOption = m.render();
      argv.add("-machine");
      argv.add(machineOption);
      plan.add(Decision.of(Topic.MACHINE, "vm", "-machine " + machineOption,
          "virt is the aarch64 machine with a PCI Express root complex; gic-version=3 for a"
              + " GICv3 with ITS (MSI-X of passed-through devices), as on Grace; highmem=on for"
              + " the PCIe MMIO window above 4 GiB that 64-bit BARs need"
              + (guestSmmu ? "; iommu=smmuv3 gives the guest a virtual SMMUv3 (asked for)" : "")
              + (bigger ? "; highmem-mmio-size enlarges the high MMIO window past its 512 GiB"
                  + " default to the " + Sizes.of(aperture.sizeBytes()) + " the devices need"
                  + " (QEMU 10.0+)" : "")));
    }

    /** aarch64: the CPU model ({@code host} under KVM, {@code max} for TCG), no x86 options. */
    private QemuOption armCpu() {
      String type = cpuModel + "-arm-cpu";
      if (!caps.isProbed(type)) {
        throw new QemuArgsException("CPU model '" + cpuModel + "': its type " + type + " was not"
            + " probed, so it is unknown; probe it with QemuProbe.probe(runner, \"" + binary
            + "\", List.of(\"" + type + "\"))");
      }
      if (!caps.hasDevice(type)) {
        throw new QemuArgsException(binary + " " + caps.version() + " has no CPU model '"
            + cpuModel + "' (" + type + "; 'host' needs a build with KVM on an arm64 host, use"
            + " 'max' under TCG); choose one from '" + binary + " -cpu help'");
      }
      plan.add(Decision.of(Topic.CPU, "vm", "-cpu " + cpuModel, "the guest's physical address"
          + " space is the virt machine's (KVM's IPA size on the host); x86's host-phys-bits"
          + " does not apply on aarch64"));
      return QemuOption.of(cpuModel);
    }

    /**
     * aarch64: one {@code pxb-pcie} expander bus per device with its root port behind it (NVIDIA's
     * and OpenNebula's Grace layout), and, on QEMU 9.2+, guest NUMA nodes per GPU tied to it by
     * {@code acpi-generic-initiator}; a plain layout without them otherwise.
     */
    private void gpuLayout(List<PassthroughUnit> units) {
      if (!caps.hasDevice(QemuCapabilities.PXB_PCIE)) {
        throw new QemuArgsException(binary + " " + caps.version() + " has no pxb-pcie device (or"
            + " it was not probed); the aarch64 layout gives each GPU an expander bus; probe with"
            + " QemuProbe.probe");
      }
      boolean initiators = caps.version().isAtLeast(GENERIC_INITIATOR_VERSION)
          && caps.hasObject(QemuCapabilities.ACPI_GENERIC_INITIATOR, GENERIC_INITIATOR_VERSION);
      List<PassthroughUnit> gpus = units.stream()
          .filter(u -> u.role() == PassthroughUnit.Role.GPU).toList();
      if (initiators && !gpus.isEmpty()) {
        numaNodes.add(new GuestMachine.NumaNode(0, Math.max(0, gpus.get(0).primary().numaNode()),
            0, cpus, memoryMiB));
      }
      int nextNode = 1;
      for (int k = 0; k < units.size(); k++) {
        PassthroughUnit unit = units.get(k);
        int busNr = GPU_EXPANDER_BUS_SPACING * (k + 1);
        String addr = String.format("0x%x.0", firstRootPortSlot + k);
        QemuOption pxb = QemuOption.of(QemuCapabilities.PXB_PCIE).with("id", "pxb" + k)
            .with("bus_nr", busNr);
        if (!numaNodes.isEmpty()) {
          pxb = pxb.with("numa_node", 0);
        }
        pxb = pxb.with("bus", PCIE_ROOT).with("addr", addr);
        expanders.add(new ExpanderBus("pxb" + k, busNr, 0,
            unit.primary().numaNode(), addr, pxb));
        if (initiators && unit.role() == PassthroughUnit.Role.GPU) {
          int first = nextNode;
          for (int i = 0; i < gpuNumaNodes; i++) {
            gpuNodes.add(new GuestMachine.GpuNode(nextNode, "hostdev" + k, "gi" + k + "-" + i));
            nextNode++;
          }
          plan.add(Decision.of(Topic.NUMA, unit.primary().address().toString(),
              "guest NUMA nodes " + first + "-" + (nextNode - 1) + " (no CPUs, no memory), each"
                  + " tied to hostdev" + k + " by an acpi-generic-initiator",
              "NVIDIA's Grace layout: the GPU's coherent memory is onlined by the guest driver on"
                  + " the first of its nodes, the others are for MIG instances; the SRAT generic"
                  + " initiator affinity tells the guest which nodes are the GPU's (QEMU "
                  + caps.version().number() + " has acpi-generic-initiator with the 9.2 BDF-order"
                  + " fix)"));
        }
      }
      if (initiators && !gpus.isEmpty()) {
        plan.add(Decision.of(Topic.NUMA, "vm", "guest node 0: CPUs " + numaNodes.get(0)
            .cpuRange() + ", " + memoryMiB + " MiB", "the guest's CPUs and RAM on node 0; the"
            + " GPUs' nodes follow it"));
      } else if (!gpus.isEmpty()) {
        plan.add(Decision.of(Topic.NUMA, "vm", "plain layout: one guest NUMA node, no GPU nodes",
            "QEMU " + caps.version().number() + " has no acpi-generic-initiator with the BDF-order"
                + " fix (QEMU 9.2 or later)").withCost("the guest gets no NUMA nodes for the GPUs'"
                    + " coherent memory: the NVIDIA driver cannot online it as NUMA memory and"
                    + " MIG instances get no nodes of their own, so CUDA sees the GPU but"
                    + " not its memory as system memory (inferred from NVIDIA's Grace"
                    + " virtualization notes); upgrade QEMU to 9.2 or later"));
      }
      plan.add(Decision.of(Topic.ROOT_PORT, "pxb0" + (units.size() > 1 ? "..pxb"
              + (units.size() - 1) : ""), units.size() + " x pxb-pcie, one per device, bus_nr "
              + "0x" + Integer.toHexString(GPU_EXPANDER_BUS_SPACING) + " apart",
          "each device behind its own expander bus and root port, as each GPU on a Grace host sits"
              + " in a PCI segment of its own (NVIDIA's and OpenNebula's layout: one pxb per"
              + " GPU)"));
    }

    /**
     * aarch64: no {@code -fw_cfg} aperture (OVMF's q35 knob); the virt machine's high MMIO window
     * holds the BARs; says what happens when it is too small.
     */
    private Optional<QemuOption> armAperture(MmioAperture aperture) {
      String need = Sizes.of(aperture.requiredBytes()) + " of 64-bit prefetchable windows behind "
          + aperture.windows().size() + " root port(s), " + Sizes.of(aperture.sizeBytes())
          + " with headroom";
      if (aperture.sizeBytes() <= VIRT_HIGH_MMIO_BYTES) {
        plan.add(Decision.of(Topic.APERTURE, "vm", "virt's 512 GiB high MMIO window",
            need + ", within the window; no -fw_cfg X-PciMmio64Mb (that is OVMF's q35 knob)"));
      } else if (caps.version().isAtLeast(HIGHMEM_MMIO_SIZE_VERSION)) {
        plan.add(Decision.of(Topic.APERTURE, "vm", "highmem-mmio-size="
            + (aperture.sizeBytes() >> 30) + "G", need + ", more than virt's 512 GiB default"
            + " high MMIO window; set on -machine"));
      } else {
        plan.add(Decision.of(Topic.APERTURE, "vm", "virt's 512 GiB high MMIO window (too small)",
            need + ", more than the 512 GiB window of QEMU " + caps.version().number()
                + "'s virt machine, which only QEMU 10.0 can enlarge (highmem-mmio-size)")
            .asWarning().withCost("the firmware leaves BARs that do not fit unassigned: those"
                + " GPUs fail in the guest; upgrade QEMU to 10.0 or give the VM fewer GPUs"));
      }
      return Optional.empty();
    }

    /** Whether the devices go through iommufd; the decision says which backend and why. */
    private boolean iommufd() {
      String legacy = "legacy VFIO groups (/dev/vfio/N)";
      if (hostIommufd == null) {
        plan.add(Decision.of(Topic.VFIO, "vm", legacy, "the host's iommufd support was not"
            + " checked (QemuCommandBuilder.hostIommufd not given)"));
        return false;
      }
      if (!hostIommufd.available()) {
        plan.add(Decision.of(Topic.VFIO, "vm", legacy, "the host has no iommufd: missing "
            + String.join(" and ", hostIommufd.missing())));
        return false;
      }
      if (!caps.hasProperty(QemuCapabilities.VFIO_PCI, "iommufd")) {
        plan.add(Decision.of(Topic.VFIO, "vm", legacy, "the host has iommufd, but QEMU "
            + caps.version() + "'s vfio-pci has no 'iommufd' property (QEMU 9.0 and later)"));
        return false;
      }
      argv.add("-object");
      argv.add(QemuOption.of("iommufd").with("id", IOMMUFD_ID).render());
      plan.add(Decision.of(Topic.VFIO, "vm", "-object iommufd,id=" + IOMMUFD_ID
              + ", vfio-pci,iommufd=" + IOMMUFD_ID,
          "the host has /dev/iommu and VFIO device cdevs and QEMU " + caps.version() + " has"
              + " vfio-pci's iommufd: each device is opened as /dev/vfio/devices/vfioN and mapped"
              + " through iommufd, the kernel's successor to VFIO's type1 containers"));
      return true;
    }

    private boolean pref64Supported() {
      return caps.hasProperty(QemuCapabilities.PCIE_ROOT_PORT, "pref64-reserve");
    }

    private void hotplugDecision() {
      String subject = "hp0" + (hotplugPorts > 1 ? "..hp" + (hotplugPorts - 1) : "");
      if (pref64Supported()) {
        plan.add(Decision.of(Topic.ROOT_PORT, subject,
            "hotplug on, pref64-reserve=" + Sizes.of(policy.hotplugPref64ReserveBytes()),
            "empty ports for device_add; root ports cannot be hot-added, and the firmware sizes"
                + " bridge windows at boot, so each port reserves a 64-bit prefetchable window"
                + " large enough for a large-BAR device")
            .withCost(Sizes.of(policy.hotplugPref64ReserveBytes())
                + " of the 64-bit aperture per port, used or not"));
      } else {
        plan.add(Decision.of(Topic.ROOT_PORT, subject, "hotplug on, no pref64-reserve",
            "QEMU " + caps.version().number() + "'s pcie-root-port has no pref64-reserve; a"
                + " large-BAR device hot-added later may not get its BARs assigned").asWarning());
      }
    }

    private Decision deviceDecision(int u, PassthroughUnit unit) {
      List<PciDevice> fns = unit.functions();
      String hosts = fns.stream().map(d -> d.address().toString())
          .collect(Collectors.joining(", "));
      String id = unit.primary().id() + NAMES.device(unit.primary().id())
          .map(name -> " (" + name + ")").orElse("");
      String what = switch (unit.role()) {
        case GPU -> "GPU " + id;
        case FABRIC -> unit.primary().isNvSwitch() ? "NVSwitch " + id
            : "NVLink fabric device " + id;
        case OTHER -> "device " + id;
      };
      String reason = what + " behind its own root port rp" + u;
      if (fns.size() > 1) {
        reason += "; its " + (fns.size() - 1) + " companion function(s) become functions 1.."
            + (fns.size() - 1) + " of the same guest device (multifunction=on on function 0),"
            + " as on the host, so the guest driver finds them together";
      }
      if (unit.role() == PassthroughUnit.Role.FABRIC) {
        reason += "; full passthrough: the guest runs Fabric Manager, which needs the fabric"
            + " devices";
      }
      return Decision.of(Topic.DEVICE, hosts, "vfio-pci bus=rp" + u + " id=hostdev" + u,
          reason);
    }

    private void romBarDecision(List<PassthroughUnit> units) {
      if (!policy.romBarOff()) {
        return;
      }
      String gpus = units.stream().filter(x -> x.role() == PassthroughUnit.Role.GPU)
          .map(x -> x.primary().address().toString()).collect(Collectors.joining(", "));
      if (gpus.isEmpty()) {
        return;
      }
      if (caps.hasProperty(QemuCapabilities.VFIO_PCI, "rombar")) {
        plan.add(Decision.of(Topic.ROM_BAR, gpus, "rombar=0",
            "the policy hides the GPUs' option ROMs: compute GPUs need no ROM in the guest, and"
                + " the firmware then neither maps nor runs it")
            .withCost("no GPU option ROM in the guest: no firmware console on the GPU"));
      } else {
        plan.add(Decision.of(Topic.ROM_BAR, gpus, "rombar left default",
            "the policy asks for rombar=0 but vfio-pci of QEMU " + caps.version().number()
                + " has no 'rombar'").asWarning());
      }
    }

    private boolean clique() {
      if (devices.gpudirectClique().isEmpty()) {
        return false;
      }
      int id = devices.gpudirectClique().getAsInt();
      String gpus = devices.gpus().stream().map(x -> x.primary().address().toString())
          .collect(Collectors.joining(", "));
      if (!caps.hasProperty(QemuCapabilities.VFIO_PCI, "x-nv-gpudirect-clique")) {
        plan.add(Decision.of(Topic.CLIQUE, gpus, "x-nv-gpudirect-clique left out",
            "vfio-pci of QEMU " + caps.version().number() + " has no x-nv-gpudirect-clique;"
                + " the guest driver will not know these GPUs can reach each other P2P")
            .asWarning());
        return false;
      }
      plan.add(Decision.of(Topic.CLIQUE, gpus, "x-nv-gpudirect-clique=" + id,
          "the GPUs of one partition share GPUDirect clique " + id + ", so the guest driver"
              + " allows P2P between them (it cannot see the host's PCIe/NVLink paths)"));
      return true;
    }

    /** Which devices get x-no-mmap, and the decision that says why. */
    private NoMmap noMmap(List<PassthroughUnit> units) {
      if (arm()) {
        plan.add(Decision.of(Topic.LARGE_BAR, "vm", "BARs mmapped (no x-no-mmap on aarch64)",
            "x-no-mmap is this builder's x86 workaround for the boot stall of old QEMU with large"
                + " BARs; on Grace the GPU's coherent memory reaches the guest as the cacheable"
                + " BAR2 of nvgrace-gpu-vfio-pci, which must be mmapped to be cacheable"));
        return NoMmap.NONE;
      }
      List<PciDevice> large = new ArrayList<>();
      for (PassthroughUnit u : units) {
        for (PciDevice d : u.functions()) {
          if (d.bars().stream().anyMatch(b -> isLarge(b, policy.largeBarBytes()))) {
            large.add(d);
          }
        }
      }
      long total = large.stream().mapToLong(PciDevice::totalMemoryBarBytes).sum();
      String subject = large.isEmpty() ? "vm" : large.stream()
          .map(d -> d.address().toString()).collect(Collectors.joining(", "));
      String sizes = large.size() + " large-BAR device(s) (a BAR of "
          + Sizes.of(policy.largeBarBytes()) + " or more) with "
          + Sizes.of(total) + " of BARs";
      String version = "QEMU " + caps.version();
      String threshold = policy.noMmapBelowVersion().number();
      if (large.isEmpty()) {
        plan.add(Decision.of(Topic.LARGE_BAR, "vm", "BARs mmapped (default)",
            "no device has a BAR of " + Sizes.of(policy.largeBarBytes()) + " or more"));
        return NoMmap.NONE;
      }
      boolean want;
      String reason;
      switch (policy.noMmap()) {
        case NEVER -> {
          want = false;
          reason = "the policy never sets x-no-mmap; " + sizes;
        }
        case ALWAYS -> {
          want = true;
          reason = "the policy always sets x-no-mmap on large-BAR devices; " + sizes;
        }
        default -> {
          if (caps.version().isAtLeast(policy.noMmapBelowVersion())) {
            want = false;
            reason = version + " is at least " + threshold + ", the policy's version for"
                + " mapping large BARs without the boot stall; " + sizes;
          } else if (total < policy.noMmapMinTotalBarBytes()) {
            want = false;
            reason = sizes + ", below the policy's " + Sizes.of(
                policy.noMmapMinTotalBarBytes()) + " per VM at which " + version
                + " (older than " + threshold + ") was reported to stall the boot";
          } else {
            want = true;
            reason = version + " is older than " + threshold + " and the VM has " + sizes
                + " (the policy's trigger is " + Sizes.of(policy.noMmapMinTotalBarBytes())
                + "): mmapping BARs this large was reported to stall the boot for minutes to"
                + " over an hour with 4 to 8 B200s; x-no-mmap avoids the stall. Upgrading QEMU"
                + " (9.2 aligns BAR mmaps) and the host kernel (6.12 huge pfnmap) removes the"
                + " need; distribution builds may have the fix under an older number";
          }
        }
      }
      if (!want) {
        plan.add(Decision.of(Topic.LARGE_BAR, subject, "BARs mmapped (default)", reason));
        return NoMmap.NONE;
      }
      if (!caps.hasProperty(QemuCapabilities.VFIO_PCI, "x-no-mmap")) {
        plan.add(Decision.of(Topic.LARGE_BAR, subject, "x-no-mmap wanted but left out",
            reason + "; but vfio-pci of " + version + " has no x-no-mmap; expect a slow boot")
            .asWarning());
        return NoMmap.NONE;
      }
      plan.add(Decision.of(Topic.LARGE_BAR, subject, "x-no-mmap=true", reason).withCost(
          "x-no-mmap is a QEMU debug property: every guest access to any BAR of these devices"
              + " traps into QEMU instead of going to the device, and unmapped BARs are not"
              + " DMA-mapped, so PCIe peer-to-peer through BARs is lost (inferred); workloads"
              + " that touch BARs often (BAR1 copies, P2P over PCIe) slow down"));
      return new NoMmap(large);
    }

    private MmioAperture aperture() {
      MmioAperture.Builder b = MmioAperture.builder().headroomBytes(policy.mmio64HeadroomBytes());
      List<PassthroughUnit> units = devices.units();
      for (int u = 0; u < units.size(); u++) {
        b.port("rp" + u, units.get(u).functions());
      }
      if (pref64Supported()) {
        for (int h = 0; h < hotplugPorts; h++) {
          b.reservedPort("hp" + h, policy.hotplugPref64ReserveBytes());
        }
      }
      return b.build();
    }

    private Optional<QemuOption> fwCfg(MmioAperture aperture) {
      String size = Sizes.of(aperture.sizeBytes());
      String need = Sizes.of(aperture.requiredBytes()) + " of 64-bit prefetchable windows"
          + " behind " + aperture.windows().size() + " root port(s) (each BAR at its natural"
          + " alignment, windows aligned to their largest BAR) plus "
          + Sizes.of(aperture.headroomBytes()) + " headroom, rounded up to " + size;
      if (aperture.sizeBytes() <= policy.firmwareMmio64Bytes()) {
        plan.add(Decision.of(Topic.APERTURE, "vm", "firmware default 64-bit aperture", need
            + ", within the firmware's default of "
            + Sizes.of(policy.firmwareMmio64Bytes())));
        return Optional.empty();
      }
      if (aperture.sizeMiB() > OVMF_MAX_MMIO64_MIB) {
        throw new QemuArgsException("64-bit MMIO aperture: " + need + ", more than the 16 TiB"
            + " OVMF accepts in opt/ovmf/X-PciMmio64Mb; give the VM fewer large-BAR devices");
      }
      QemuOption fw = QemuOption.of().with("name", "opt/ovmf/X-PciMmio64Mb")
          .with("string", Long.toString(aperture.sizeMiB()));
      argv.add("-fw_cfg");
      argv.add(fw.render());
      plan.add(Decision.of(Topic.APERTURE, "vm", "-fw_cfg " + fw.render(), need + ", more than"
              + " the firmware's default of " + Sizes.of(policy.firmwareMmio64Bytes())
              + "; without it OVMF leaves large BARs unassigned ('BAR1 is 0M @ 0x0' in the"
              + " guest). OVMF may still pick a larger window from the address width")
          .withCost(size + " of guest physical address space"));
      return Optional.of(fw);
    }

    private void requireProperty(String type, String property, String purpose) {
      if (!caps.hasProperty(type, property)) {
        throw new QemuArgsException(type + " of QEMU " + caps.version() + " has no '" + property
            + "', needed for " + purpose + "; upgrade QEMU or choose PhysBits.fixed(...)");
      }
    }

    private String portList(int from, int to) {
      return to - from == 1 ? "rp" + from : "rp" + from + "..rp" + (to - 1);
    }
  }

  /** The devices that get x-no-mmap. */
  private record NoMmap(List<PciDevice> devices) {
    static final NoMmap NONE = new NoMmap(List.of());

    boolean applies(PciDevice d) {
      return devices.contains(d);
    }
  }

  private static boolean isLarge(Bar bar, long threshold) {
    return !bar.io() && bar.size() >= threshold;
  }
}
