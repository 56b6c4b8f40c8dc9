package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * One vGPU handed to a VM: a VF carrying a type (vendor-specific interface) or a mediated device
 * (legacy mdev), on a physical GPU. Exactly one of {@link #vf()} and {@link #mdev()} is present.
 *
 * @param pf the physical GPU
 * @param vf the VF that carries the type (vendor-specific)
 * @param mdev the mediated device's UUID (legacy mdev)
 * @param type the vGPU type
 */
public record VgpuAssignment(PciAddress pf, Optional<PciAddress> vf, Optional<UUID> mdev,
    VgpuType type) {

  /** Validates that exactly one of VF and mdev is given. */
  public VgpuAssignment {
    Objects.requireNonNull(pf, "pf");
    Objects.requireNonNull(vf, "vf");
    Objects.requireNonNull(mdev, "mdev");
    Objects.requireNonNull(type, "type");
    if (vf.isPresent() == mdev.isPresent()) {
      throw new InvalidValueException("vGPU assignment on " + pf
          + " needs exactly one of a VF and an mdev UUID, got vf=" + vf + " mdev=" + mdev);
    }
    if (vf.isPresent() && vf.get().equals(pf)) {
      throw new InvalidValueException("vGPU assignment: VF " + vf.get() + " is the PF itself");
    }
  }

  /** A VF of {@code pf} carrying {@code type}. */
  public static VgpuAssignment onVf(PciAddress pf, PciAddress vf, VgpuType type) {
    return new VgpuAssignment(pf, Optional.of(vf), Optional.empty(), type);
  }

  /** A mediated device {@code uuid} of {@code type} on {@code pf}. */
  public static VgpuAssignment onMdev(PciAddress pf, UUID uuid, VgpuType type) {
    return new VgpuAssignment(pf, Optional.empty(), Optional.of(uuid), type);
  }

  /** The interface this assignment uses. */
  public VgpuInterface vgpuInterface() {
    return vf.isPresent() ? VgpuInterface.VENDOR_SPECIFIC : VgpuInterface.LEGACY_MDEV;
  }

  /** The host path of the device QEMU opens: the VF's or the mdev's sysfs directory. */
  public String sysfsPath() {
    return vf.map(v -> "/sys/bus/pci/devices/" + v)
        .orElseGet(() -> "/sys/bus/mdev/devices/" + mdev.orElseThrow());
  }
}
