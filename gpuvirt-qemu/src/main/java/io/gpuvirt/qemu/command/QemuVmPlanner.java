package io.gpuvirt.qemu.command;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.vfio.VfioDriverRule;
import io.gpuvirt.core.vmplan.VmPlanException;
import io.gpuvirt.core.vmplan.VmPlanner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuVersion;
import java.util.Objects;
import java.util.function.Function;

/**
 * gpuvirt-qemu's {@link VmPlanner}: a lease's devices through {@link LeasePassthrough} into
 * {@link QemuCommandBuilder}, whose {@link QemuArgs} is the plan. It is the same layout logic as
 * {@code gpuvirt qemu-args}: the plan a provisioning returns equals the command rendered later for
 * the same lease with the same builder settings.
 *
 * <p>Found by {@code GpuHost} through {@link java.util.ServiceLoader} with the defaults of
 * {@link #QemuVmPlanner()}; a launcher that knows its QEMU gives its own settings:
 *
 * <pre>{@code
 * QemuCapabilities caps = QemuProbe.probe(runner, "/usr/bin/qemu-system-x86_64");
 * Provisioner provisioner = host.provisionerBuilder()
 *     .vmPlanner(QemuVmPlanner.using(devices -> QemuCommandBuilder.forQemu(caps)
 *         .binary("/usr/bin/qemu-system-x86_64").memoryMiB(256 * 1024)))
 *     .build();
 * QemuArgs command = (QemuArgs) provisioner.provision(request).plan().orElseThrow();
 * }</pre>
 */
public final class QemuVmPlanner implements VmPlanner {
  /** The QEMU version the default planner assumes: it probes nothing. */
  public static final QemuVersion ASSUMED_VERSION = QemuVersion.of(10, 1, 0);
  /** The guest memory of the default planner: 64 GiB. */
  public static final long DEFAULT_MEMORY_MIB = 64 * 1024;

  private final Function<PassthroughDevices, QemuCommandBuilder> configure;

  /**
   * The default planner: QEMU {@link #ASSUMED_VERSION} as {@link QemuCapabilities#assumed}
   * describes it, for the guest architecture the lease's devices call for (aarch64
   * {@value QemuCommandBuilder#AARCH64_BINARY} when a device is a Grace-attached GPU, one the
   * standard {@link VfioDriverRule} gives to {@value VfioDriverRule#NVGRACE}, else x86_64
   * {@value QemuCommandBuilder#DEFAULT_BINARY}),
   * {@link #DEFAULT_MEMORY_MIB} of memory, the builder's other defaults. For
   * {@link java.util.ServiceLoader}; a launcher that knows its QEMU uses {@link #using}.
   */
  public QemuVmPlanner() {
    this(null);
  }

  /** The guest architecture a lease's devices call for (see {@link #QemuVmPlanner()}). */
  static CpuArchitecture architecture(Lease lease) {
    VfioDriverRule rule = VfioDriverRule.standard();
    return lease.devices().stream().anyMatch(d -> d.vfioDriver()
        .equals(java.util.Optional.of(VfioDriverRule.NVGRACE))
        || rule.driverFor(d.id()).equals(VfioDriverRule.NVGRACE))
        ? CpuArchitecture.AARCH64 : CpuArchitecture.X86_64;
  }

  private QemuVmPlanner(Function<PassthroughDevices, QemuCommandBuilder> configure) {
    this.configure = configure;
  }

  /**
   * A planner whose builder {@code configure} makes for each VM's devices (capabilities, binary,
   * memory, CPUs, firmware, disk, large-BAR policy); the planner sets the devices and builds.
   */
  public static QemuVmPlanner using(Function<PassthroughDevices, QemuCommandBuilder> configure) {
    return new QemuVmPlanner(Objects.requireNonNull(configure, "configure"));
  }

  /**
   * The QEMU command for {@code lease}'s devices, with its decisions.
   *
   * @throws VmPlanException when the lease cannot be passed through as it stands, or QEMU cannot
   *     take its devices (the message names the device or what QEMU lacks, and the fix)
   */
  @Override
  public QemuArgs plan(Lease lease) {
    Objects.requireNonNull(lease, "lease");
    try {
      PassthroughDevices devices = LeasePassthrough.of(lease);
      QemuCommandBuilder builder = configure == null
          ? QemuCommandBuilder.forQemu(QemuCapabilities.assumed(ASSUMED_VERSION,
              architecture(lease))).memoryMiB(DEFAULT_MEMORY_MIB)
          : Objects.requireNonNull(configure.apply(devices),
              "the planner's configure function returned no builder");
      return builder.devices(devices).build();
    } catch (VmPlanException e) {
      throw e;
    } catch (GpuvirtException | IllegalStateException e) {
      throw new VmPlanException("the QEMU command for " + lease.owner()
          + " cannot be built: " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "QemuVmPlanner";
  }
}
