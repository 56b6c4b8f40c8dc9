package io.gpuvirt.qemu.libvirt;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.vmplan.VmPlanException;
import io.gpuvirt.core.vmplan.VmPlanner;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuVmPlanner;
import java.util.Objects;

/**
 * A VM planner for platforms that start VMs through libvirt: the QEMU plan of {@code qemu} and
 * its domain XML, both made before the provisioner changes the host, so a plan libvirt cannot
 * take rolls the provisioning back like any other failed plan. The domain is named after the
 * lease's owner.
 *
 * <pre>{@code
 * Provisioner p = host.provisionerBuilder()
 *     .vmPlanner(LibvirtVmPlanner.of(new QemuVmPlanner(), LibvirtVersion.DEBIAN_12)).build();
 * String xml = ((LibvirtPlan) p.provision(request).plan().orElseThrow()).domain().xml();
 * }</pre>
 */
public final class LibvirtVmPlanner implements VmPlanner {
  private final QemuVmPlanner qemu;
  private final LibvirtVersion version;

  private LibvirtVmPlanner(QemuVmPlanner qemu, LibvirtVersion version) {
    this.qemu = Objects.requireNonNull(qemu, "qemu");
    this.version = Objects.requireNonNull(version, "version");
  }

  /** Plans with {@code qemu} and renders the domain for {@code version}. */
  public static LibvirtVmPlanner of(QemuVmPlanner qemu, LibvirtVersion version) {
    return new LibvirtVmPlanner(qemu, version);
  }

  /**
   * {@inheritDoc}
   *
   * @throws VmPlanException when the QEMU plan cannot be made or libvirt cannot express it
   */
  @Override
  public LibvirtPlan plan(Lease lease) {
    QemuArgs args = qemu.plan(lease);
    try {
      return new LibvirtPlan(args, LibvirtDomain.builder(args).name(lease.owner())
          .libvirtVersion(version).build());
    } catch (LibvirtException e) {
      throw new VmPlanException("the libvirt domain for " + lease.owner() + " cannot be"
          + " rendered: " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "LibvirtVmPlanner[" + qemu + ", libvirt " + version + "]";
  }
}
