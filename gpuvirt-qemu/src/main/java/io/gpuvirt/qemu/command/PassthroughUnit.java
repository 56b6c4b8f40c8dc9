package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Host functions that the guest sees as one PCI device behind its own PCIe root port: a primary
 * function and its companions (a GPU's HDMI audio function, the other functions of a ConnectX
 * card), which become functions 1 to 7 of the same guest device in the order given.
 *
 * <pre>{@code
 * PassthroughUnit gpu = PassthroughUnit.gpu(b200);                    // a data-centre GPU
 * PassthroughUnit card = PassthroughUnit.gpu(rtx, List.of(rtxAudio)); // 01:00.0 + 01:00.1
 * PassthroughUnit mgmt = PassthroughUnit.fabric(cx7f0, List.of(cx7f1, cx7f2, cx7f3));
 * }</pre>
 *
 * @param role what the unit is for; decides which GPU-only settings apply
 * @param primary the function the guest sees as function 0
 * @param companions further functions of the same guest device, at most 7
 */
public record PassthroughUnit(Role role, PciDevice primary, List<PciDevice> companions) {

  /** What a unit is for. */
  public enum Role {
    /** A GPU (class 0x0300 or 0x0302): gets the large-BAR policy and the GPUDirect clique. */
    GPU,
    /**
     * An NVLink fabric device the guest's own Fabric Manager drives in full-passthrough mode: an
     * NVSwitch (HGX H100/H200) or a ConnectX-7 NVLink-management function (HGX B200).
     */
    FABRIC,
    /** Any other device (a NIC, an NVMe drive). */
    OTHER
  }

  public PassthroughUnit {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(primary, "primary");
    companions = List.copyOf(companions);
    if (companions.size() > 7) {
      throw new InvalidValueException("unit " + primary.address() + " has "
          + companions.size() + " companion functions; a guest device has at most 8 functions,"
          + " so pass at most 7 companions");
    }
    Set<PciAddress> seen = new HashSet<>();
    seen.add(primary.address());
    for (PciDevice c : companions) {
      if (!seen.add(c.address())) {
        throw new InvalidValueException("unit " + primary.address() + " lists function "
            + c.address() + " twice");
      }
    }
    if (role == Role.GPU && !primary.isGpu()) {
      throw new InvalidValueException("unit " + primary.address() + " has role GPU but class "
          + primary.pciClass() + " is not a GPU (0x0300xx or 0x0302xx); use Role.OTHER");
    }
    List<PciDevice> all = new ArrayList<>(companions);
    all.add(0, primary);
    for (PciDevice d : all) {
      if (d.isBridge()) {
        throw new InvalidValueException(d.address() + " is a bridge (class " + d.pciClass()
            + "); pass the endpoints behind it, not the bridge");
      }
    }
  }

  /** A GPU without companion functions. */
  public static PassthroughUnit gpu(PciDevice gpu) {
    return new PassthroughUnit(Role.GPU, gpu, List.of());
  }

  /** A GPU with companion functions (its audio function, say). */
  public static PassthroughUnit gpu(PciDevice gpu, List<PciDevice> companions) {
    return new PassthroughUnit(Role.GPU, gpu, companions);
  }

  /** A fabric device (an NVSwitch) without companions. */
  public static PassthroughUnit fabric(PciDevice device) {
    return new PassthroughUnit(Role.FABRIC, device, List.of());
  }

  /** A fabric device with companion functions (the four ConnectX-7 NVLink-management PFs). */
  public static PassthroughUnit fabric(PciDevice device, List<PciDevice> companions) {
    return new PassthroughUnit(Role.FABRIC, device, companions);
  }

  /** Any other device with its companions. */
  public static PassthroughUnit other(PciDevice device, List<PciDevice> companions) {
    return new PassthroughUnit(Role.OTHER, device, companions);
  }

  /** The primary followed by the companions: guest function {@code i} is element {@code i}. */
  public List<PciDevice> functions() {
    List<PciDevice> all = new ArrayList<>(companions.size() + 1);
    all.add(primary);
    all.addAll(companions);
    return List.copyOf(all);
  }
}
