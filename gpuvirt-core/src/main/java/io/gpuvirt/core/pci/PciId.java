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
}
