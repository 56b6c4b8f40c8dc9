package io.gpuvirt.qemu.command;

import java.util.Objects;
import java.util.Optional;

/**
 * A {@code pcie-root-port} the builder placed: on {@code pcie.0}, or with NUMA placement on its
 * node's {@code pxb-pcie} bus.
 *
 * @param id the port's qdev id, the {@code bus} of the device behind it
 * @param addr its address on its bus, {@code 0x10.0}
 * @param chassis its chassis number (unique with {@code slot})
 * @param slot its slot number
 * @param hotplug whether the port is an empty hotplug port for {@code device_add}
 * @param option the {@code -device} value
 */
public record RootPort(String id, String addr, int chassis, int slot, boolean hotplug,
    QemuOption option) {
  public RootPort {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(addr, "addr");
    Objects.requireNonNull(option, "option");
  }

  /** The bus it sits on: {@code pcie.0}, or an expander bus's id ({@code pxb0}). */
  public String bus() {
    return option.get("bus").orElse("pcie.0");
  }

  /** The port's {@code pref64-reserve} value, when it has one. */
  public Optional<String> pref64Reserve() {
    return option.get("pref64-reserve");
  }
}
