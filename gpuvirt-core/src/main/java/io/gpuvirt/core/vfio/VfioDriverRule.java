package io.gpuvirt.core.vfio;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The rule that picks the VFIO driver for a GPU by its id: a VFIO variant driver where the
 * kernel has one for that part, {@code vfio-pci} otherwise. Provisioning binds by it and
 * {@code doctor} explains it.
 *
 * <p>{@link #standard()} knows the Grace-attached GPUs, whose memory is coherent with the CPU and
 * which Linux (from 6.9) binds to {@code nvgrace_gpu_vfio_pci} (the module
 * {@code nvgrace-gpu-vfio-pci}; it presents that memory to the guest as a cacheable BAR2):
 * HGX GB200 10de:2941 (reference SYSFS.md §5, §9: gpu-operator binds it to
 * {@code nvgrace_gpu_vfio_pci}) and, from the driver's id table in the kernel sources (not in the
 * reference, so inferred), GH200 10de:2342, 10de:2345, 10de:2348 and GB300 10de:31c2. Add or
 * replace parts with {@link Builder#variant}:
 *
 * <pre>{@code
 * VfioDriverRule rule = VfioDriverRule.standard().toBuilder()
 *     .variant(new PciId(0x10de, 0x3182), "nvgrace_gpu_vfio_pci").build();
 * }</pre>
 */
public final class VfioDriverRule {
  /** The Grace variant driver as the kernel names it under {@code /sys/bus/pci/drivers}. */
  public static final String NVGRACE = "nvgrace_gpu_vfio_pci";

  private static final Comparator<PciId> BY_ID = Comparator.comparingInt(PciId::vendor)
      .thenComparingInt(PciId::device);

  private static final VfioDriverRule STANDARD = builder()
      .variant(new PciId(0x10de, 0x2941), NVGRACE)
      // inferred from the kernel's id table (drivers/vfio/pci/nvgrace-gpu/main.c)
      .variant(new PciId(0x10de, 0x2342), NVGRACE)
      .variant(new PciId(0x10de, 0x2345), NVGRACE)
      .variant(new PciId(0x10de, 0x2348), NVGRACE)
      .variant(new PciId(0x10de, 0x31c2), NVGRACE)
      .build();

  private final SortedMap<PciId, String> variants;
  private final String fallback;

  private VfioDriverRule(Builder b) {
    TreeMap<PciId, String> sorted = new TreeMap<>(BY_ID);
    sorted.putAll(b.variants);
    this.variants = Collections.unmodifiableSortedMap(sorted);
    this.fallback = b.fallback;
  }

  /** The variant drivers Linux has for GPUs (see the class comment); {@code vfio-pci} else. */
  public static VfioDriverRule standard() {
    return STANDARD;
  }

  /** One driver for every device, as {@code Provisioner.Builder.vfioDriver} asks. */
  public static VfioDriverRule only(String driver) {
    return builder().fallback(driver).build();
  }

  /** An empty rule: {@code vfio-pci} for everything until parts are added. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this rule's parts. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.variants.putAll(variants);
    b.fallback = fallback;
    return b;
  }

  /** The parts with a variant driver, by id. */
  public SortedMap<PciId, String> variants() {
    return variants;
  }

  /** The driver for devices that have no variant ({@code vfio-pci} unless set). */
  public String fallback() {
    return fallback;
  }

  /** The VFIO driver for a device with id {@code id}. */
  public String driverFor(PciId id) {
    return variants.getOrDefault(Objects.requireNonNull(id, "id"), fallback);
  }

  /** The VFIO driver for {@code device}. */
  public String driverFor(PciDevice device) {
    return driverFor(device.id());
  }

  /**
   * The one driver for a set of GPUs that go to one VM.
   *
   * @throws InvalidValueException naming the GPUs and their drivers when they need different ones
   */
  public String driverFor(Collection<PciDevice> gpus) {
    TreeMap<String, TreeSet<String>> byDriver = new TreeMap<>();
    for (PciDevice g : gpus) {
      byDriver.computeIfAbsent(driverFor(g), k -> new TreeSet<>()).add(g.address() + " ("
          + g.id() + ")");
    }
    if (byDriver.size() > 1) {
      throw new InvalidValueException("the GPUs need different VFIO drivers " + byDriver
          + "; request GPUs of one kind per VM");
    }
    return byDriver.isEmpty() ? fallback : byDriver.firstKey();
  }

  /** Why {@code device} goes to the driver {@link #driverFor(PciId)} picks, in one sentence. */
  public String explain(PciDevice device) {
    String driver = driverFor(device);
    if (variants.containsKey(device.id())) {
      return device.address() + " (" + device.id() + ") goes to the VFIO variant driver "
          + driver + (driver.equals(NVGRACE) ? ": it is a Grace-attached GPU, whose memory is"
              + " coherent with the CPU and reaches the guest as a cacheable BAR2 only through"
              + " that driver" : ", the rule's driver for that part");
    }
    return device.address() + " (" + device.id() + ") goes to " + driver
        + (variants.isEmpty() ? "" : ": no VFIO variant driver is known for that part");
  }

  /** The variant driver for {@code id}, if the rule has one. */
  public Optional<String> variantFor(PciId id) {
    return Optional.ofNullable(variants.get(id));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VfioDriverRule r && variants.equals(r.variants)
        && fallback.equals(r.fallback);
  }

  @Override
  public int hashCode() {
    return Objects.hash(variants, fallback);
  }

  @Override
  public String toString() {
    return "VfioDriverRule[" + variants + ", else " + fallback + "]";
  }

  /** Builds {@link VfioDriverRule}s; each setter names the bad value. */
  public static final class Builder {
    private final Map<PciId, String> variants = new TreeMap<>(BY_ID);
    private String fallback = BindRequest.VFIO_PCI;

    private Builder() {}

    /** Devices with id {@code id} go to {@code driver}, a VFIO driver. */
    public Builder variant(PciId id, String driver) {
      Objects.requireNonNull(id, "id");
      variants.put(id, checkVfio(driver, "variant driver for " + id));
      return this;
    }

    /** Devices without a variant go to {@code driver} (default {@code vfio-pci}). */
    public Builder fallback(String driver) {
      this.fallback = checkVfio(driver, "fallback driver");
      return this;
    }

    public VfioDriverRule build() {
      return new VfioDriverRule(this);
    }

    private static String checkVfio(String driver, String what) {
      BindRequest.checkDriverName(driver);
      if (!VfioDrivers.isVfioDriver(driver)) {
        throw new InvalidValueException(what + " '" + driver + "' is not a VFIO driver (vfio-pci"
            + " or a name ending in -vfio-pci or _vfio_pci)");
      }
      return driver;
    }
  }
}
