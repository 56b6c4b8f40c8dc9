package io.gpuvirt.qemu.vgpu;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.qemu.command.QemuOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The QEMU devices for a lease's vGPUs (reference VGPU_MIG.md §2): each vGPU behind its own
 * {@code pcie-root-port}, a vendor-specific VF as {@code -device vfio-pci,host=<VF>} (the VF stays
 * on the NVIDIA vGPU host driver; no rebinding), a legacy mdev as
 * {@code -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/<uuid>} with {@code -uuid <uuid>} (the
 * NVIDIA guest driver expects the VM's UUID to be the mdev's; QEMU takes one {@code -uuid}, so the
 * first mdev's is used).
 *
 * <p>The ports sit at {@code pcie.0} slots from {@link #DEFAULT_FIRST_SLOT} (after the whole-GPU
 * builder's default root ports at 0x10-0x17) with chassis numbers from
 * {@link #DEFAULT_FIRST_CHASSIS}; append {@link Plan#argv()} to the builder's argv with
 * {@code extraArguments}.
 *
 * <pre>{@code
 * VgpuQemuDevices.Plan plan = VgpuQemuDevices.plan(lease.vgpus());
 * builder.extraArguments(plan.argv());
 * }</pre>
 */
public final class VgpuQemuDevices {
  /** The first {@code pcie.0} slot for vGPU root ports. */
  public static final int DEFAULT_FIRST_SLOT = 0x18;
  /** The first chassis number for vGPU root ports (the builder numbers its ports from 1). */
  public static final int DEFAULT_FIRST_CHASSIS = 0x40;
  private static final int LAST_SLOT = 0x1f;

  private VgpuQemuDevices() {}

  /**
   * One vGPU as QEMU sees it.
   *
   * @param assignment the vGPU
   * @param rootPort the {@code -device pcie-root-port} value
   * @param device the {@code -device vfio-pci} value
   * @param explanation why it looks so, for the plan shown to operators
   */
  public record Device(VgpuAssignment assignment, QemuOption rootPort, QemuOption device,
      String explanation) {}

  /**
   * The devices, their argv and the VM UUID an mdev needs.
   *
   * @param devices one per vGPU, in the lease's order
   * @param uuid the {@code -uuid} value, present when a vGPU is an mdev
   * @param argv the arguments to append to QEMU's argv
   */
  public record Plan(List<Device> devices, Optional<UUID> uuid, List<String> argv) {
    public Plan {
      devices = List.copyOf(devices);
      argv = List.copyOf(argv);
    }
  }

  /** The plan with ports from {@link #DEFAULT_FIRST_SLOT} and {@link #DEFAULT_FIRST_CHASSIS}. */
  public static Plan plan(List<VgpuAssignment> vgpus) {
    return plan(vgpus, DEFAULT_FIRST_SLOT, DEFAULT_FIRST_CHASSIS);
  }

  /**
   * The plan with root ports from {@code firstSlot} on {@code pcie.0} and chassis numbers from
   * {@code firstChassis}.
   *
   * @throws InvalidValueException if the vGPUs do not fit in the slots up to 0x1f or the chassis
   *     numbers up to 255
   */
  public static Plan plan(List<VgpuAssignment> vgpus, int firstSlot, int firstChassis) {
    if (vgpus.isEmpty()) {
      throw new InvalidValueException("no vGPUs to render; the lease holds none");
    }
    if (firstSlot < 1 || firstSlot + vgpus.size() - 1 > LAST_SLOT) {
      throw new InvalidValueException(vgpus.size() + " vGPU root ports from pcie.0 slot 0x"
          + Integer.toHexString(firstSlot) + " do not fit below slot 0x1f; choose a lower first "
          + "slot or give the VM fewer vGPUs");
    }
    if (firstChassis < 1 || firstChassis + vgpus.size() - 1 > 255) {
      throw new InvalidValueException("vGPU root port chassis numbers from " + firstChassis
          + " exceed 255");
    }
    List<Device> devices = new ArrayList<>();
    List<String> argv = new ArrayList<>();
    Optional<UUID> uuid = Optional.empty();
    for (int i = 0; i < vgpus.size(); i++) {
      VgpuAssignment v = vgpus.get(i);
      String port = "vgpurp" + i;
      QemuOption rootPort = QemuOption.of("pcie-root-port").with("id", port)
          .with("bus", "pcie.0").with("addr", "0x" + Integer.toHexString(firstSlot + i) + ".0")
          .with("chassis", firstChassis + i).with("slot", firstChassis + i);
      QemuOption device;
      String why;
      if (v.vf().isPresent()) {
        device = QemuOption.of("vfio-pci").with("host", v.vf().get().toString())
            .with("id", "vgpu" + i).with("bus", port);
        why = "vGPU " + v.type().name() + " on VF " + v.vf().get() + " of " + v.pf()
            + ": the VF is passed as a PCI device (it stays on the NVIDIA vGPU host driver), "
            + "behind its own root port " + port;
      } else {
        UUID mdev = v.mdev().orElseThrow();
        device = QemuOption.of("vfio-pci").with("sysfsdev", v.sysfsPath())
            .with("id", "vgpu" + i).with("bus", port);
        if (uuid.isEmpty()) {
          uuid = Optional.of(mdev);
        }
        why = "vGPU " + v.type().name() + " as mdev " + mdev + " on " + v.pf()
            + ": passed by its sysfs path behind root port " + port
            + (uuid.get().equals(mdev) ? "; the VM's -uuid is this mdev's, as the NVIDIA driver"
                + " expects" : "; the VM's -uuid is the first mdev's (QEMU takes one)");
      }
      devices.add(new Device(v, rootPort, device, why));
    }
    for (Device d : devices) {
      argv.add("-device");
      argv.add(d.rootPort().render());
    }
    for (Device d : devices) {
      argv.add("-device");
      argv.add(d.device().render());
    }
    if (uuid.isPresent()) {
      argv.add("-uuid");
      argv.add(uuid.get().toString());
    }
    return new Plan(devices, uuid, argv);
  }
}
