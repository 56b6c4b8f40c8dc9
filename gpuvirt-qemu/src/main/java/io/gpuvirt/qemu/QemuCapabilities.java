package io.gpuvirt.qemu;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.CpuArchitecture;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What one QEMU binary offers: its version, its machine types, its accelerators, and the
 * properties of the device types that were probed. The command builder consults it so that it
 * never emits a property the binary lacks.
 *
 * <p>Obtain one from the binary with {@link QemuProbe#probe}, from a running QEMU with
 * {@code QmpClient.capabilities(List)}, or build one for a binary you cannot run (a different host)
 * with {@link #builder(QemuVersion)}.
 *
 * <p>A device type that was not probed is unknown, not absent: {@link #deviceProperties} tells the
 * two apart, and {@link #hasProperty} answers false for both.
 */
public final class QemuCapabilities {
  /** The VFIO PCI device type. */
  public static final String VFIO_PCI = "vfio-pci";
  /** The generic PCI Express root port device type. */
  public static final String PCIE_ROOT_PORT = "pcie-root-port";
  /** The PCI Express expander bus device type. */
  public static final String PXB_PCIE = "pxb-pcie";
  /** The object that ties a PCI device to a guest NUMA node (ACPI SRAT generic initiator). */
  public static final String ACPI_GENERIC_INITIATOR = "acpi-generic-initiator";

  private final QemuVersion version;
  private final Set<String> machines;
  private final Set<String> accelerators;
  private final Map<String, Set<String>> devices;
  private final Set<String> absentDevices;
  private final CpuArchitecture architecture;
  private final Optional<Set<String>> objects;

  private QemuCapabilities(Builder b) {
    this.version = b.version;
    this.architecture = b.architecture;
    this.objects = b.objects.map(Set::copyOf);
    this.machines = Set.copyOf(b.machines);
    this.accelerators = Set.copyOf(b.accelerators);
    Map<String, Set<String>> copy = new TreeMap<>();
    b.devices.forEach((k, v) -> copy.put(k, Set.copyOf(v)));
    this.devices = Map.copyOf(copy);
    this.absentDevices = Set.copyOf(b.absentDevices);
  }

  /** A builder for capabilities known without running the binary. */
  public static Builder builder(QemuVersion version) {
    return new Builder(version);
  }

  /** A builder holding these capabilities, to change or add to them. */
  public Builder toBuilder() {
    Builder b = new Builder(version);
    b.machines.addAll(machines);
    b.accelerators.addAll(accelerators);
    devices.forEach((k, v) -> b.devices.put(k, new TreeSet<>(v)));
    b.absentDevices.addAll(absentDevices);
    b.architecture = architecture;
    b.objects = objects.map(TreeSet::new);
    return b;
  }

  /**
   * Capabilities assumed from the version alone, for building a command line where the binary
   * cannot be probed (another host, a CI machine without QEMU). Each property is included when the
   * version is at least the one that introduced it upstream (reference/QEMU.md, some marked
   * unconfirmed there): {@code vfio-pci} {@code x-no-mmap} (2.5), {@code x-nv-gpudirect-clique}
   * (2.11), {@code rombar}; {@code pcie-root-port} {@code chassis}, {@code slot}, {@code port},
   * {@code *-reserve} (2.11), {@code hotplug} (5.0); CPU model {@code host} with
   * {@code host-phys-bits} and {@code host-phys-bits-limit}. Distribution builds can differ:
   * probe the real binary with {@link QemuProbe#probe} before running a VM.
   */
  public static QemuCapabilities assumed(QemuVersion version) {
    java.util.List<String> vfio = new java.util.ArrayList<>(java.util.List.of("host", "id",
        "bus", "addr", "multifunction", "rombar", "romfile", "bootindex", "x-vga", "sysfsdev"));
    java.util.List<String> rootPort = new java.util.ArrayList<>(java.util.List.of("id", "bus",
        "addr", "multifunction", "chassis", "slot", "port"));
    if (version.compareTo(QemuVersion.of(2, 5, 0)) >= 0) {
      vfio.add("x-no-mmap");
    }
    if (version.compareTo(QemuVersion.of(2, 11, 0)) >= 0) {
      vfio.add("x-nv-gpudirect-clique");
      rootPort.addAll(java.util.List.of("bus-reserve", "io-reserve", "mem-reserve",
          "pref32-reserve", "pref64-reserve"));
    }
    if (version.compareTo(QemuVersion.of(5, 0, 0)) >= 0) {
      rootPort.add("hotplug");
    }
    return builder(version).machines(java.util.List.of("q35", "pc"))
        .accelerators(java.util.List.of("kvm", "tcg"))
        .device(VFIO_PCI, vfio).device(PCIE_ROOT_PORT, rootPort)
        .device("host-x86_64-cpu", java.util.List.of("host-phys-bits", "host-phys-bits-limit",
            "phys-bits"))
        .build();
  }

  /**
   * Capabilities assumed from the version alone for a binary of {@code arch}: for x86_64 those of
   * {@link #assumed(QemuVersion)}; for aarch64 the {@code virt} machine, {@code vfio-pci},
   * {@code pcie-root-port} and {@code pxb-pcie} as there, CPU models {@code host} and
   * {@code max}, and the objects {@code iommufd} and {@code acpi-generic-initiator} from 9.0
   * (reference NEXT.md §5, §6).
   */
  public static QemuCapabilities assumed(QemuVersion version, CpuArchitecture arch) {
    QemuCapabilities x86 = assumed(version);
    if (arch == CpuArchitecture.X86_64) {
      return x86;
    }
    Builder b = builder(version).architecture(arch).machines(java.util.List.of("virt"))
        .accelerators(java.util.List.of("kvm", "tcg"))
        .device(VFIO_PCI, x86.devices.get(VFIO_PCI))
        .device(PCIE_ROOT_PORT, x86.devices.get(PCIE_ROOT_PORT))
        .device(PXB_PCIE, java.util.List.of("id", "bus", "addr", "bus_nr", "numa_node"))
        .device("host-arm-cpu", java.util.List.of()).device("max-arm-cpu", java.util.List.of());
    java.util.List<String> objects = new java.util.ArrayList<>(java.util.List.of(
        "memory-backend-ram", "memory-backend-file"));
    if (version.isAtLeast(QemuVersion.of(9, 0, 0))) {
      objects.add("iommufd");
      objects.add(ACPI_GENERIC_INITIATOR);
    }
    return b.objects(objects).build();
  }

  /**
   * The architecture of the binary's guests ({@code qemu-system-aarch64} runs aarch64 guests),
   * x86_64 unless the probe or the builder said otherwise.
   */
  public CpuArchitecture architecture() {
    return architecture;
  }

  /** The user-creatable object types ({@code -object help}); empty when not probed. */
  public Optional<Set<String>> objectTypes() {
    return objects;
  }

  /**
   * Whether the binary can create objects of {@code type} ({@code acpi-generic-initiator}):
   * from the probed list, or, when none was probed, whether the version is at least
   * {@code since}.
   */
  public boolean hasObject(String type, QemuVersion since) {
    return objects.map(o -> o.contains(type)).orElse(version.isAtLeast(since));
  }

  /** The binary's version. */
  public QemuVersion version() {
    return version;
  }

  /** Machine type names and their aliases ({@code q35}, {@code pc-q35-8.2}). */
  public Set<String> machines() {
    return machines;
  }

  /** Whether the binary has the machine type or alias {@code name}. */
  public boolean hasMachine(String name) {
    return machines.contains(name);
  }

  /** Accelerator names ({@code kvm}, {@code tcg}). */
  public Set<String> accelerators() {
    return accelerators;
  }

  /** Whether the binary was built with accelerator {@code name}. */
  public boolean hasAccelerator(String name) {
    return accelerators.contains(name);
  }

  /**
   * The properties of a device type (a CPU model's type, {@code host-x86_64-cpu}, counts as one):
   * empty when the type was probed and the binary does not have it.
   *
   * @throws InvalidValueException when the type was never probed (unknown is not absent)
   */
  public Optional<Set<String>> deviceProperties(String deviceType) {
    if (devices.containsKey(deviceType)) {
      return Optional.of(devices.get(deviceType));
    }
    if (absentDevices.contains(deviceType)) {
      return Optional.empty();
    }
    throw new InvalidValueException("device type '" + deviceType + "' was not probed; probe it"
        + " with QemuProbe.probe(runner, binary, \"" + deviceType + "\")");
  }

  /** Whether the type was probed (present or absent). */
  public boolean isProbed(String deviceType) {
    return devices.containsKey(deviceType) || absentDevices.contains(deviceType);
  }

  /** Whether the binary has the device type; false when it was not probed. */
  public boolean hasDevice(String deviceType) {
    return devices.containsKey(deviceType);
  }

  /** Whether the device type has the property; false when the type is absent or not probed. */
  public boolean hasProperty(String deviceType, String property) {
    Set<String> props = devices.get(deviceType);
    return props != null && props.contains(property);
  }

  /** The device types that were probed and found. */
  public Set<String> probedDevices() {
    return devices.keySet();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof QemuCapabilities c && version.equals(c.version)
        && machines.equals(c.machines) && accelerators.equals(c.accelerators)
        && devices.equals(c.devices) && absentDevices.equals(c.absentDevices)
        && architecture == c.architecture && objects.equals(c.objects);
  }

  @Override
  public int hashCode() {
    return Objects.hash(version, machines, accelerators, devices, absentDevices, architecture,
        objects);
  }

  @Override
  public String toString() {
    return "QemuCapabilities[" + version + ", " + architecture.kernelName() + ", machines="
        + machines.size() + ", accelerators=" + new TreeSet<>(accelerators) + ", devices=" + devices.keySet() + ", absent="
        + new TreeSet<>(absentDevices) + "]";
  }

  /** Builds {@link QemuCapabilities}; names must be non-blank. */
  public static final class Builder {
    private final QemuVersion version;
    private final Set<String> machines = new TreeSet<>();
    private final Set<String> accelerators = new TreeSet<>();
    private final Map<String, Set<String>> devices = new TreeMap<>();
    private final Set<String> absentDevices = new TreeSet<>();
    private CpuArchitecture architecture = CpuArchitecture.X86_64;
    private Optional<Set<String>> objects = Optional.empty();

    private Builder(QemuVersion version) {
      this.version = Objects.requireNonNull(version, "version");
    }

    /** Adds machine type names or aliases. */
    public Builder machines(Iterable<String> names) {
      names.forEach(n -> machines.add(name("machine", n)));
      return this;
    }

    /** Adds accelerator names ({@code kvm}, {@code tcg}). */
    public Builder accelerators(Iterable<String> names) {
      names.forEach(n -> accelerators.add(name("accelerator", n)));
      return this;
    }

    /** Records a device type the binary has, with its properties. */
    public Builder device(String deviceType, Iterable<String> properties) {
      String type = name("device type", deviceType);
      Set<String> props = new TreeSet<>();
      properties.forEach(p -> props.add(name("property of " + type, p)));
      devices.put(type, props);
      absentDevices.remove(type);
      return this;
    }

    /** The architecture of the binary's guests (x86_64 by default). */
    public Builder architecture(CpuArchitecture value) {
      this.architecture = Objects.requireNonNull(value, "architecture");
      return this;
    }

    /** The user-creatable object types the binary lists ({@code -object help}). */
    public Builder objects(Iterable<String> types) {
      Set<String> set = new TreeSet<>();
      types.forEach(t -> set.add(name("object type", t)));
      this.objects = Optional.of(set);
      return this;
    }

    /** Forgets the object types: they count as not probed. */
    public Builder unknownObjects() {
      this.objects = Optional.empty();
      return this;
    }

    /** Records a device type that was probed and that the binary does not have. */
    public Builder absentDevice(String deviceType) {
      String type = name("device type", deviceType);
      devices.remove(type);
      absentDevices.add(type);
      return this;
    }

    public QemuCapabilities build() {
      return new QemuCapabilities(this);
    }

    private static String name(String what, String value) {
      if (value == null || value.isBlank()) {
        throw new InvalidValueException(what + " name is blank");
      }
      return value.strip();
    }
  }
}
