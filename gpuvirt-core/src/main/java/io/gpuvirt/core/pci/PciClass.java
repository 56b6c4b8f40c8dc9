package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;

/**
 * A 24-bit PCI class code: base class, subclass, programming interface ({@code 0x030200} is a 3D
 * controller).
 *
 * @param code the value of the sysfs {@code class} file
 */
public record PciClass(int code) {
  /** VGA-compatible controller. */
  public static final int VGA = 0x0300;
  /** 3D controller (data-centre GPUs). */
  public static final int DISPLAY_3D = 0x0302;
  /** Host bridge. */
  public static final int HOST_BRIDGE = 0x0600;
  /** PCI-to-PCI bridge (root ports and switch ports). */
  public static final int PCI_BRIDGE = 0x0604;
  /** "Bridge: other": NVSwitch uses it, and it is an endpoint, not a bridge. */
  public static final int OTHER_BRIDGE = 0x0680;
  /** High-definition audio (a consumer GPU's HDMI audio function). */
  public static final int AUDIO = 0x0403;

  public PciClass {
    if (code < 0 || code > 0xffffff) {
      throw new InvalidValueException("PCI class code out of range: 0x"
          + Integer.toHexString(code));
    }
  }

  /** Base class and subclass, {@code 0x0302}. */
  public int baseAndSub() {
    return code >> 8;
  }

  /** A GPU: VGA-compatible (0x0300) or 3D controller (0x0302). */
  public boolean isGpu() {
    return baseAndSub() == VGA || baseAndSub() == DISPLAY_3D;
  }

  /**
   * Exactly a host bridge (0x0600) or PCI bridge (0x0604). Deliberately not a 0x06xx mask: that
   * would match NVSwitch (0x0680).
   */
  public boolean isHostOrPciBridge() {
    return baseAndSub() == HOST_BRIDGE || baseAndSub() == PCI_BRIDGE;
  }

  /** {@code 0x030200}. */
  @Override
  public String toString() {
    return String.format("0x%06x", code);
  }
}
