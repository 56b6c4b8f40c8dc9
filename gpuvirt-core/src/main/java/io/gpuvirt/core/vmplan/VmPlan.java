package io.gpuvirt.core.vmplan;

import java.util.List;

/**
 * A VM's plan, computed once from its lease by a {@link VmPlanner}: where each device sits in the
 * guest (root ports, companions, large-BAR policy, aperture, address width, clique) and why, and
 * the command that starts the VM. Core knows no hypervisor: an implementation (gpuvirt-qemu's
 * {@code QemuArgs}) carries the full, typed plan, which its renderings (QEMU argv, later libvirt
 * domain XML) read; this interface is what every caller can rely on. Implementations are
 * immutable values with value equality.
 */
public interface VmPlan {
  /** The decisions taken, with their reasons, one line each, in the order they were made. */
  List<String> describe();

  /** The command that starts the VM, program first, one argument per element (no shell). */
  List<String> argv();
}
