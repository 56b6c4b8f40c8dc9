package io.gpuvirt.qemu.command;

import java.util.Objects;

/**
 * A {@code pxb-pcie} expander bus the builder placed on {@code pcie.0} for one host NUMA node
 * (NUMA placement, {@link QemuCommandBuilder#numaPlacement}): a PCI Express root bus of its own,
 * tied to a guest NUMA node, with the root ports of that node's devices on it.
 *
 * @param id the bus's qdev id ({@code pxb0}), the {@code bus} of its root ports
 * @param busNr the first bus number of its hierarchy
 * @param guestNode the guest NUMA node it belongs to
 * @param hostNode the host NUMA node whose devices sit behind it
 * @param addr its address on {@code pcie.0}
 * @param option the {@code -device} value
 */
public record ExpanderBus(String id, int busNr, int guestNode, int hostNode, String addr,
    QemuOption option) {
  public ExpanderBus {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(addr, "addr");
    Objects.requireNonNull(option, "option");
  }
}
