package io.gpuvirt.core.pci;

import java.util.Optional;

/** The device/port type field of the PCI Express capability (flags bits 7:4). */
public enum PciePortType {
  ENDPOINT(0x0),
  LEGACY_ENDPOINT(0x1),
  ROOT_PORT(0x4),
  SWITCH_UPSTREAM(0x5),
  SWITCH_DOWNSTREAM(0x6),
  PCIE_TO_PCI_BRIDGE(0x7),
  PCI_TO_PCIE_BRIDGE(0x8),
  ROOT_COMPLEX_INTEGRATED_ENDPOINT(0x9),
  ROOT_COMPLEX_EVENT_COLLECTOR(0xa);

  private final int code;

  PciePortType(int code) {
    this.code = code;
  }

  /** The 4-bit value in the capability. */
  public int code() {
    return code;
  }

  /** The type with this 4-bit code, if the code is defined. */
  public static Optional<PciePortType> fromCode(int code) {
    for (PciePortType t : values()) {
      if (t.code == code) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }
}
