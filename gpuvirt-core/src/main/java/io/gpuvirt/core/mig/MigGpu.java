package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;

/**
 * A GPU as a {@link MigBackend} sees it: the index NVIDIA's tools give it ({@code nvidia-smi -i},
 * NVML's handle index, ordered by PCI address), its address, PCI device id, name and MIG mode.
 * Only GPUs on NVIDIA's driver are visible: a GPU bound to VFIO for a VM is not listed.
 *
 * @param index the index ({@code nvidia-smi -i N})
 * @param address its PCI address
 * @param pciDeviceId its PCI device id (vendor 0x10de), what mig-parted's device filters match
 * @param name the product name, e.g. {@code NVIDIA B200}
 * @param mode its MIG mode, current and pending
 */
public record MigGpu(int index, PciAddress address, int pciDeviceId, String name, MigMode mode) {
  public MigGpu {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(mode, "mode");
    if (index < 0 || index > 63) {
      throw new InvalidValueException("GPU index " + index + " of " + address
          + " is out of range 0..63");
    }
    if (pciDeviceId < 0 || pciDeviceId > 0xffff) {
      throw new InvalidValueException("PCI device id " + pciDeviceId + " of " + address
          + " is out of range 0..0xffff");
    }
  }

  /** {@code GPU 0 (0000:17:00.0, NVIDIA B200)}, for messages. */
  public String describe() {
    return "GPU " + index + " (" + address + ", " + name + ")";
  }
}
