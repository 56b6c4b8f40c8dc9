package io.gpuvirt.core.alloc;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.PciId;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Which devices a request asks for. Bridges never match. A selector has a text form, used by the
 * CLI and the lease ledger, that {@link #parse} reads back:
 *
 * <ul>
 *   <li>{@code gpu}: any GPU, class 0x0300 or 0x0302 ({@link #anyGpu()});
 *   <li>{@code 10de:2901}: a vendor:device pair ({@link #id(PciId)});
 *   <li>{@code class:0302}: a base class and subclass, 4 hex digits ({@link #pciClass(int)});
 *   <li>{@code 0000:17:00.0,0000:3d:00.0}: explicit addresses ({@link #addresses(java.util.Collection)}),
 *       the request then chooses among exactly these.
 * </ul>
 */
public sealed interface DeviceSelector
    permits DeviceSelector.AnyGpu, DeviceSelector.ById, DeviceSelector.ByClass,
    DeviceSelector.ByAddresses {

  /** Whether {@code device} is one of the devices this selector asks for (never a bridge). */
  boolean matches(PciDevice device);

  /** The text form, which {@link #parse} reads back. */
  @Override
  String toString();

  /** Any GPU (class 0x0300 or 0x0302); the default. */
  static DeviceSelector anyGpu() {
    return AnyGpu.INSTANCE;
  }

  /** Devices with this vendor:device id. */
  static DeviceSelector id(PciId id) {
    return new ById(id);
  }

  /** Devices of this base class and subclass ({@code 0x0302}). */
  static DeviceSelector pciClass(int baseAndSub) {
    return new ByClass(baseAndSub);
  }

  /** Exactly these devices (the request chooses among them). */
  static DeviceSelector addresses(java.util.Collection<PciAddress> addresses) {
    return new ByAddresses(new TreeSet<>(addresses));
  }

  /**
   * Reads the text form: {@code gpu}, {@code 10de:2901}, {@code class:0302} or a comma-separated
   * list of PCI addresses.
   *
   * @throws InvalidValueException naming the text and the forms accepted
   */
  static DeviceSelector parse(String text) {
    if (text == null || text.isEmpty()) {
      throw new InvalidValueException("empty device selector: expected gpu, vendor:device "
          + "(10de:2901), class:XXXX (class:0302) or PCI addresses (0000:17:00.0,0000:3d:00.0)");
    }
    if (text.equals("gpu")) {
      return anyGpu();
    }
    if (text.startsWith("class:")) {
      String hex = text.substring("class:".length());
      if (!hex.matches("(0x)?[0-9a-fA-F]{4}")) {
        throw new InvalidValueException("invalid class selector '" + text
            + "': expected class: and 4 hex digits of base class and subclass, as class:0302");
      }
      return pciClass(Integer.parseInt(hex.startsWith("0x") ? hex.substring(2) : hex, 16));
    }
    if (text.contains(".")) {
      List<PciAddress> list = new ArrayList<>();
      for (String part : text.split(",", -1)) {
        list.add(PciAddress.parse(part));
      }
      return addresses(list);
    }
    try {
      return id(PciId.parse(text));
    } catch (IllegalArgumentException | InvalidValueException e) {
      throw new InvalidValueException("invalid device selector '" + text + "': expected gpu, "
          + "vendor:device (10de:2901), class:XXXX (class:0302) or PCI addresses "
          + "(0000:17:00.0,0000:3d:00.0)", e);
    }
  }

  /** Any GPU. */
  final class AnyGpu implements DeviceSelector {
    private static final AnyGpu INSTANCE = new AnyGpu();

    private AnyGpu() {}

    @Override
    public boolean matches(PciDevice device) {
      return !device.isBridge() && device.isGpu();
    }

    @Override
    public String toString() {
      return "gpu";
    }
  }

  /**
   * Devices with one vendor:device id.
   *
   * @param id the id
   */
  record ById(PciId id) implements DeviceSelector {
    public ById {
      Objects.requireNonNull(id, "id");
    }

    @Override
    public boolean matches(PciDevice device) {
      return !device.isBridge() && device.id().equals(id) && !isBmcDisplay(device);
    }

    @Override
    public String toString() {
      return id.toString();
    }
  }

  /**
   * Devices of one base class and subclass.
   *
   * @param baseAndSub {@code 0x0302} for a 3D controller
   */
  record ByClass(int baseAndSub) implements DeviceSelector {
    public ByClass {
      if (baseAndSub < 0 || baseAndSub > 0xffff) {
        throw new InvalidValueException("class selector must be 0000..ffff, was 0x"
            + Integer.toHexString(baseAndSub));
      }
    }

    @Override
    public boolean matches(PciDevice device) {
      return !device.isBridge() && device.pciClass().baseAndSub() == baseAndSub
          && !isBmcDisplay(device);
    }

    @Override
    public String toString() {
      return String.format("class:%04x", baseAndSub);
    }
  }

  /**
   * Explicit devices.
   *
   * @param addresses the addresses, sorted; at least one
   */
  record ByAddresses(SortedSet<PciAddress> addresses) implements DeviceSelector {
    public ByAddresses {
      if (addresses.isEmpty()) {
        throw new InvalidValueException("an address selector needs at least one address");
      }
      addresses = Collections.unmodifiableSortedSet(new TreeSet<>(addresses));
    }

    @Override
    public boolean matches(PciDevice device) {
      return !device.isBridge() && addresses.contains(device.address());
    }

    @Override
    public String toString() {
      return addresses.stream().map(PciAddress::toString).collect(Collectors.joining(","));
    }
  }

  /** A BMC's display (class 0x03xx from a BMC vendor): no selector hands it out. */
  private static boolean isBmcDisplay(PciDevice device) {
    return device.pciClass().baseAndSub() >> 8 == 0x03
        && PciId.isBmcDisplayVendor(device.id().vendor());
  }
}
