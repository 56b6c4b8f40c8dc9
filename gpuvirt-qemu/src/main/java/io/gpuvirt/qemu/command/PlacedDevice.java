package io.gpuvirt.qemu.command;

import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;

/**
 * A host function as the guest will see it: its qdev id, the root port it sits behind and its
 * function number there.
 *
 * @param host the host function
 * @param id the qdev id ({@code hostdev0}, {@code hostdev0.1} for a companion)
 * @param rootPort the id of the root port it sits behind
 * @param function the guest function number, 0 for the unit's primary
 * @param role the role of the unit it belongs to
 * @param option the {@code -device} value
 */
public record PlacedDevice(PciAddress host, String id, String rootPort, int function,
    PassthroughUnit.Role role, QemuOption option) {
  public PlacedDevice {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(rootPort, "rootPort");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(option, "option");
  }
}
