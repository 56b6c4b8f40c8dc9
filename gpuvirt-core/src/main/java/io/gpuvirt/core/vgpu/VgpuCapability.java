package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.util.List;
import java.util.Objects;

/**
 * What one physical GPU (PF) of a host offers for vGPU, as read from sysfs now.
 *
 * @param pf the physical function
 * @param id its vendor and device id (which type catalogue applies)
 * @param numaNode its NUMA node, -1 when the host has none
 * @param vgpuInterface vendor-specific (VFs with {@code nvidia/}) or legacy mdev
 * @param totalVfs {@code sriov_totalvfs} of the PF, 0 for a GPU without SR-IOV (legacy mdev)
 * @param virtualFunctions the VFs enabled now, in {@code virtfnN} order; empty until
 *     {@code sriov-manage -e} ran after this boot
 */
public record VgpuCapability(PciAddress pf, PciId id, int numaNode, VgpuInterface vgpuInterface,
    int totalVfs,
    List<PciAddress> virtualFunctions) {

  /** Validates the fields and copies the list. */
  public VgpuCapability {
    Objects.requireNonNull(pf, "pf");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(vgpuInterface, "vgpuInterface");
    virtualFunctions = List.copyOf(virtualFunctions);
    if (totalVfs < 0 || virtualFunctions.size() > totalVfs) {
      throw new InvalidValueException("vGPU capability of " + pf + ": " + virtualFunctions.size()
          + " VFs enabled but sriov_totalvfs is " + totalVfs);
    }
  }

  /** True when the VFs are enabled (the vendor-specific path needs them). */
  public boolean vfsEnabled() {
    return !virtualFunctions.isEmpty();
  }
}
