package io.gpuvirt.qemu.libvirt;

import io.gpuvirt.core.vmplan.VmPlan;
import io.gpuvirt.qemu.command.QemuArgs;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A VM plan with its two renderings: the QEMU argv ({@link #qemu()}) and the libvirt domain
 * ({@link #domain()}), made from the same layout.
 *
 * @param qemu the QEMU plan, whose argv this plan's {@link #argv()} is
 * @param domain the domain XML of the same plan
 */
public record LibvirtPlan(QemuArgs qemu, LibvirtDomain domain) implements VmPlan {
  public LibvirtPlan {
    Objects.requireNonNull(qemu, "qemu");
    Objects.requireNonNull(domain, "domain");
  }

  /** The QEMU plan's decisions, then how the domain expresses them. */
  @Override
  public List<String> describe() {
    List<String> lines = new ArrayList<>(qemu.describe());
    domain.describe().forEach(l -> lines.add("LIBVIRT " + l));
    return List.copyOf(lines);
  }

  @Override
  public List<String> argv() {
    return qemu.argv();
  }
}
