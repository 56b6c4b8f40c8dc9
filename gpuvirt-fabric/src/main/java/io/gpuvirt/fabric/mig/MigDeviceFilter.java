package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;
import java.util.Locale;

/**
 * One entry of a mig-parted {@code device-filter}: a PCI device and vendor id written
 * {@code 0xDDDDVVVV} (B200: {@code 0x290110DE}).
 *
 * @param device the PCI device id
 * @param vendor the PCI vendor id (0x10de for NVIDIA)
 */
public record MigDeviceFilter(int device, int vendor) {
  /** Validates both ids as 16-bit values. */
  public MigDeviceFilter {
    if (device < 0 || device > 0xffff || vendor < 0 || vendor > 0xffff) {
      throw new InvalidValueException(
          "device filter ids " + device + "/" + vendor + " are not 16-bit");
    }
  }

  /** The NVIDIA device with this PCI device id. */
  public static MigDeviceFilter nvidia(int device) {
    return new MigDeviceFilter(device, 0x10de);
  }

  /**
   * Parses {@code 0xDDDDVVVV}, as mig-parted writes it (case does not matter).
   *
   * @throws InvalidValueException naming the text
   */
  public static MigDeviceFilter parse(String text) {
    if (!text.matches("0[xX][0-9a-fA-F]{8}")) {
      throw new InvalidValueException(
          "device filter '" + text + "' is not of the form 0xDDDDVVVV (e.g. 0x290110DE)");
    }
    long value = Long.parseLong(text.substring(2), 16);
    return new MigDeviceFilter((int) (value >>> 16), (int) (value & 0xffff));
  }

  /** {@code 0x290110DE}. */
  @Override
  public String toString() {
    return String.format(Locale.ROOT, "0x%04X%04X", device, vendor);
  }

  static boolean matches(List<MigDeviceFilter> filters, int pciDeviceId) {
    return filters.isEmpty() || filters.contains(nvidia(pciDeviceId));
  }
}
