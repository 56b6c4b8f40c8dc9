package io.gpuvirt.examples;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.LeasedGroup;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.qemu.QemuCapabilities;
import io.gpuvirt.qemu.QemuVersion;
import io.gpuvirt.qemu.command.LeasePassthrough;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.command.QemuCommandBuilder;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.io.PrintStream;
import java.util.List;

/**
 * Provisions a 4-GPU VM on a simulated HGX B200, from request to QEMU command line, and tears it
 * down again. No hardware, root or QEMU needed:
 * {@code java -cp examples/target/gpuvirt.jar io.gpuvirt.examples.ProvisionOnSimulatedB200}.
 *
 * <p>The steps are those of a real host in shared NVSwitch mode (Fabric Manager with
 * {@code FABRIC_MODE=1}); on one, replace the simulated host's {@code sysfs()} with
 * {@code Sysfs.host()}, the simulated Fabric Manager with {@code NvfmFabricManager} or
 * {@code FmpmFabricManager} from gpuvirt-fabric, the board's module ids with
 * {@code ModuleIdDiscovery}, and the fixed QEMU capabilities with {@code QemuProbe.probe}.
 *
 * <ol>
 *   <li>Write a simulated HGX B200 (8 GPUs behind PCIe switches, on the {@code nvidia} driver) to a
 *       temporary directory, with a simulated Fabric Manager holding the B200 partition table.</li>
 *   <li>Build a {@link Provisioner} in partition mode: it chooses a free partition of the requested
 *       size, maps its GPU module ids to PCI addresses, resets the GPUs, activates the partition,
 *       binds the GPUs' IOMMU groups to vfio-pci and records every step in the lease ledger.</li>
 *   <li>Provision 4 GPUs for {@code vm-42}, printing each step as it happens.</li>
 *   <li>Render the QEMU command from the lease: one PCIe root port per GPU (a B200 on the root
 *       complex fails {@code cuInit} with 3), {@code x-no-mmap} on QEMU 8.2 for 1 TiB of BARs, the
 *       64-bit MMIO aperture, and the partition's GPUDirect clique.</li>
 *   <li>Tear down, and check that the host is as it was: same drivers, no active partition, no
 *       lease.</li>
 * </ol>
 */
public final class ProvisionOnSimulatedB200 {
  private ProvisionOnSimulatedB200() {}

  public static void main(String[] args) {
    boolean restored = run(System.out);
    System.exit(restored ? 0 : 1);
  }

  /**
   * Runs the example, printing to {@code out}.
   *
   * @return whether the host was back to its initial state after teardown
   */
  public static boolean run(PrintStream out) {
    // 1. A simulated HGX B200 in a temporary directory (deleted on close), and its Fabric Manager.
    try (SimulatedHost host = SimulatedHost.hgxB200()) {
      SimulatedFabric fabric = SimulatedFabric.underHostRoot(host.root());
      out.println("Simulated host: " + host.root());
      Topology before = TopologyScanner.scan(host.sysfs());
      out.println("  " + before.summary());

      try (FabricManager fabricManager = fabric.connect()) {
        // 2. The lease ledger (the journal of every change) and the provisioner in partition mode.
        LeaseLedger ledger = LeaseLedger.open(host.root().resolve("var/lib/gpuvirt"));
        Provisioner provisioner = Provisioner.builder(host.sysfs(), ledger)
            .partitions(new PartitionContext(fabricManager, host.profile().moduleIds()))
            .listener(event -> out.println("  " + event))
            .build();
        provisioner.recover(); // finishes or undoes whatever a crash interrupted; nothing here

        // 3. Four B200s for vm-42.
        out.println();
        out.println("Provisioning 4 x 10de:2901 for vm-42:");
        AllocationRequest request = AllocationRequest.builder("vm-42")
            .count(4)
            .selector(DeviceSelector.id(new PciId(0x10de, 0x2901)))
            .build();
        Provisioned vm = provisioner.provision(request);
        printLease(out, vm);

        // 4. The QEMU command line for the lease.
        QemuArgs qemu = QemuCommandBuilder.forQemu(qemu822())
            .memoryMiB(512 * 1024)
            .devices(LeasePassthrough.of(vm.lease()))
            .extraArguments(List.of("-smp", "64", "-display", "none",
                "-qmp", "unix:/run/gpuvirt/vm-42.qmp,server=on,wait=off"))
            .build();
        out.println();
        out.println("QEMU command (QEMU " + qemu.qemuVersion().number() + "):");
        out.println(commandLines(qemu.argv()));
        out.println("Why:");
        qemu.plan().forEach(decision -> out.println("  " + decision));

        // 5. The VM has ended: tear down, and compare the host with how it started.
        out.println();
        out.println("Tearing down vm-42:");
        provisioner.teardown("vm-42");
        Topology after = TopologyScanner.scan(host.sysfs());
        boolean sameDevices = before.devices().equals(after.devices());
        boolean noPartition = fabric.activePartitionIds().isEmpty();
        boolean noLease = ledger.leases().isEmpty();
        out.println();
        out.println("Host back to its initial state: drivers and devices "
            + (sameDevices ? "as before" : "CHANGED") + ", active partitions "
            + fabric.activePartitionIds() + ", leases " + ledger.leases().size()
            + " (" + host.writeCount() + " sysfs writes in all)");
        return sameDevices && noPartition && noLease;
      }
    }
  }

  /** The lease: its partition, its GPUs with their module ids, and the VFIO groups to open. */
  private static void printLease(PrintStream out, Provisioned vm) {
    Lease lease = vm.lease();
    out.println();
    out.println("Lease of " + lease.owner() + ": " + lease.state() + ", Fabric Manager partition "
        + lease.partitionId().orElseThrow());
    for (LeasedDevice gpu : lease.requestedDevices()) {
      out.println("  GPU " + gpu.address() + "  module id " + gpu.moduleId().orElseThrow()
          + "  NUMA node " + gpu.numaNode() + "  was on " + gpu.originalDriver().orElse("no driver"));
    }
    for (LeasedGroup group : lease.groups()) {
      out.println("  IOMMU group " + group.number() + " -> " + group.vfioDevicePath());
    }
    lease.reasons().forEach(reason -> out.println("  why: " + reason));
  }

  /** The argv one option per line, each flag with its value, for reading (no shell runs it). */
  private static String commandLines(List<String> argv) {
    StringBuilder sb = new StringBuilder("  ").append(argv.get(0));
    for (int i = 1; i < argv.size(); i++) {
      boolean flag = argv.get(i).startsWith("-");
      sb.append(flag ? " \\\n    " : " ").append(argv.get(i));
    }
    return sb.toString();
  }

  /**
   * QEMU 8.2.2 (Ubuntu 24.04's qemu-system-x86) as its version implies, so that the example runs
   * without QEMU installed. On a real host probe the binary instead:
   * {@code QemuProbe.probe(CommandRunner.system(), "qemu-system-x86_64")}.
   */
  static QemuCapabilities qemu822() {
    return QemuCapabilities.assumed(QemuVersion.parse("8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)"));
  }
}
