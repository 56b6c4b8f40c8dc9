package io.gpuvirt.examples;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.doctor.HostDoctor;
import io.gpuvirt.core.doctor.ReadinessReport;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.fabric.FabricManagerConfig;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Looks at this machine the way gpuvirt sees it, and changes nothing: the PCI topology (a summary,
 * then the tree drawn like {@code lspci -tv}, with each GPU's driver, IOMMU group, NUMA node and
 * BARs) and the readiness report of the host doctor (IOMMU, VFIO modules, drivers, each failure
 * with its exact fix). Runs as any user; only reads {@code /sys}, {@code /proc/cmdline} and
 * {@code /etc}.
 *
 * <pre>
 * java -cp examples/target/gpuvirt.jar io.gpuvirt.examples.InspectRealHost          # this host
 * java -cp examples/target/gpuvirt.jar io.gpuvirt.examples.InspectRealHost /tmp/b200  # a simulated one
 * </pre>
 *
 * <p>Exit code 0 when the doctor finds the host ready for passthrough, 1 when not, 2 when the host
 * cannot be read.
 */
public final class InspectRealHost {
  private InspectRealHost() {}

  public static void main(String[] args) {
    Path root = Path.of(args.length > 0 ? args[0] : "/");
    try {
      System.exit(run(root, System.out) ? 0 : 1);
    } catch (GpuvirtException e) {
      System.err.println("cannot inspect " + root + ": " + e.getMessage());
      System.exit(2);
    }
  }

  /**
   * Inspects the host whose root is {@code root} ({@code /} for this machine), printing to
   * {@code out}.
   *
   * @return whether the doctor finds it ready for passthrough
   * @throws GpuvirtException when the host cannot be read
   */
  public static boolean run(Path root, PrintStream out) {
    // Every read goes through the Sysfs seam, rooted at the host's root directory.
    Sysfs host = Sysfs.at(root);

    // 1. The PCI topology: one immutable snapshot, read once.
    Topology topology = TopologyScanner.scan(host);
    out.println("Host " + root + ": " + topology.summary());
    for (PciDevice gpu : topology.gpus()) {
      out.println("  GPU " + gpu.address() + " [" + gpu.id() + "] driver "
          + gpu.driver().orElse("(none)") + ", IOMMU group "
          + (gpu.iommuGroup().isPresent() ? gpu.iommuGroup().getAsInt() : "(none)")
          + ", NUMA node " + gpu.numaNode() + ", upstream "
          + topology.upstreamChain(gpu.address()).size() + " bridge(s)");
    }
    out.println();
    out.println(topology.renderTree());

    // 2. Where idle GPUs belong decides what the doctor expects: in shared NVSwitch mode
    //    (fabricmanager.cfg says FABRIC_MODE=1) they stay on nvidia between VMs; otherwise they
    //    are bound to vfio-pci from boot.
    GpuDriverPolicy policy = sharedNvSwitch(host) ? GpuDriverPolicy.REBIND_PER_VM
        : GpuDriverPolicy.STATIC_VFIO;
    out.println("GPU driver policy: " + policy);

    // 3. The doctor's findings, each with its evidence and fix. gpuvirt never applies them.
    ReadinessReport report = HostDoctor.examine(host, policy);
    out.print(report.render());
    return report.ready();
  }

  private static boolean sharedNvSwitch(Sysfs host) {
    return host.exists(FabricManagerConfig.DEFAULT_PATH)
        && FabricManagerConfig.read(host).sharedNvswitchMode();
  }
}
