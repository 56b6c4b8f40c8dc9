package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;

/**
 * A vendor:device pair, {@code 10de:2901}. Also used for subsystem ids.
 *
 * @param vendor 16-bit vendor id
 * @param device 16-bit device id
 */
public record PciId(int vendor, int device) {
  /** NVIDIA's vendor id. */
  public static final int NVIDIA = 0x10de;
  /** Mellanox/NVIDIA networking vendor id (ConnectX). */
  public static final int MELLANOX = 0x15b3;

  public PciId {
    if (vendor < 0 || vendor > 0xffff) {
      throw new InvalidValueException("vendor id out of range: 0x" + Integer.toHexString(vendor));
    }
    if (device < 0 || device > 0xffff) {
      throw new InvalidValueException("device id out of range: 0x" + Integer.toHexString(device));
    }
  }

  /**
   * Parses {@code vvvv:dddd} (4 hex digits each, either case), as in {@code lspci -d} and
   * {@code vfio-pci.ids}.
   */
  public static PciId parse(String text) {
    if (text == null || !text.matches("[0-9a-fA-F]{4}:[0-9a-fA-F]{4}")) {
      throw new InvalidValueException("invalid PCI id '" + text
          + "': expected vendor:device as 4+4 hex digits, for example 10de:2901");
    }
    return new PciId(Integer.parseInt(text.substring(0, 4), 16),
        Integer.parseInt(text.substring(5), 16));
  }

  /** {@code 10de:2901}. */
  @Override
  public String toString() {
    return String.format("%04x:%04x", vendor, device);
  }

  /**
   * Equal when vendor and device are; written out (as the record's own would be) so that the first
   * lookup by id in a fresh JVM does not bootstrap {@code ObjectMethods} method handles.
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof PciId && ((PciId) o).vendor == vendor && ((PciId) o).device == device;
  }

  @Override
  public int hashCode() {
    return vendor << 16 | device;
  }

  /**
   * Whether {@code vendor} makes only baseboard-management display controllers: ASPEED
   * ({@code 0x1a03}, the AST2x00 VGA on HGX and most server boards) and Matrox ({@code 0x102b},
   * the G200e of iDRAC/iLO hosts). Their class is VGA (0x0300), but they are the BMC's console,
   * never a GPU to pass through.
   */
  public static boolean isBmcDisplayVendor(int vendor) {
    return vendor == ASPEED || vendor == MATROX;
  }

  /** ASPEED's vendor id (BMC VGA 1a03:2000). */
  public static final int ASPEED = 0x1a03;
  /** Matrox's vendor id (BMC VGA G200e). */
  public static final int MATROX = 0x102b;
}
