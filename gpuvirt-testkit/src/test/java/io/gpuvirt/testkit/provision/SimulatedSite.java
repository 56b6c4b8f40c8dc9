package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.provision.ProgressListener;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A simulated host with what provisioning needs around it: the lease ledger in the host's
 * {@code var/lib/gpuvirt} and, in partition mode, the simulated Fabric Manager kept under the same
 * root (so a second process that opens the root sees the same host, ledger and Fabric Manager).
 */
final class SimulatedSite implements AutoCloseable {
  static final String VFIO = "vfio-pci";
  private static final String STATE_DIRECTORY = "var/lib/gpuvirt";

  private final SimulatedHost host;
  private final Optional<SimulatedFabric> fabric;
  private final Optional<FabricManager> client;
  private final LeaseLedger ledger;

  private SimulatedSite(SimulatedHost host, boolean partitions) {
    this.host = host;
    this.fabric = partitions ? Optional.of(SimulatedFabric.underHostRoot(host.root()))
        : Optional.empty();
    this.client = fabric.map(SimulatedFabric::connect);
    this.ledger = LeaseLedger.open(host.root().resolve(STATE_DIRECTORY));
  }

  /** Shared NVSwitch mode: whole Fabric Manager partitions (an HGX B200 host). */
  static SimulatedSite partitioned(SimulatedHost host) {
    return new SimulatedSite(host, true);
  }

  /** Whole IOMMU groups, no Fabric Manager. */
  static SimulatedSite groups(SimulatedHost host) {
    return new SimulatedSite(host, false);
  }

  /** Opens a site another process made (the host stays when this one is closed). */
  static SimulatedSite open(Path root, boolean partitions) {
    return new SimulatedSite(SimulatedHost.open(root), partitions);
  }

  SimulatedHost host() {
    return host;
  }

  Path root() {
    return host.root();
  }

  boolean partitionMode() {
    return fabric.isPresent();
  }

  SimulatedFabric fabric() {
    return fabric.orElseThrow();
  }

  LeaseLedger ledger() {
    return ledger;
  }

  /** A provisioner builder for this site, over {@code sysfs} (the host's own, or a wrapper). */
  Provisioner.Builder provisioner(Sysfs sysfs) {
    Provisioner.Builder b = Provisioner.builder(sysfs, ledger);
    client.ifPresent(fm -> b.partitions(new PartitionContext(fm, fabric().moduleIdMap())));
    return b;
  }

  Provisioner provisioner(ProgressListener listener) {
    return provisioner(host.sysfs()).listener(listener).build();
  }

  Provisioner provisioner() {
    return provisioner(ProgressListener.NONE);
  }

  /** Reserves devices for the request in the ledger without touching the host (gpuvirt allocate). */
  Lease reserve(AllocationRequest request) {
    return client.isPresent()
        ? ledger.allocate(request, scan(), new PartitionContext(client.get(), fabric().moduleIdMap()))
        : ledger.allocate(request, scan());
  }

  Topology scan() {
    return TopologyScanner.scan(host.sysfs());
  }

  HostSnapshot snapshot() {
    return new HostSnapshot(scan().devices(),
        fabric.map(SimulatedFabric::activePartitionIds).orElse(List.of()), ledger.leases());
  }

  /**
   * What breaks invariant 4: a device on vfio-pci (or a VFIO variant driver) without a lease
   * (other than those already there in {@code baseline}, which gpuvirt never bound), an active
   * partition without a lease, a lease BOUND whose devices are not on the VFIO driver it recorded
   * or whose partition is inactive, a lease left in a journal state. Empty when consistent.
   */
  List<String> violations(HostSnapshot baseline) {
    Set<PciAddress> alreadyOnVfio = new HashSet<>();
    baseline.devices().stream().filter(SimulatedSite::onVfio)
        .forEach(d -> alreadyOnVfio.add(d.address()));
    Topology topology = scan();
    List<Lease> leases = ledger.leases();
    List<Integer> active = fabric.map(SimulatedFabric::activePartitionIds).orElse(List.of());
    List<String> out = new ArrayList<>();
    Set<PciAddress> leased = new HashSet<>();
    Set<Integer> leasedPartitions = new HashSet<>();
    for (Lease lease : leases) {
      lease.devices().forEach(d -> leased.add(d.address()));
      lease.partitionId().ifPresent(leasedPartitions::add);
      if (lease.state().inFlight()) {
        out.add("lease of " + lease.owner() + " left in journal state " + lease.state());
      }
      if (lease.state() == LeaseState.BOUND) {
        for (LeasedDevice d : lease.passedThroughDevices()) {
          Optional<String> driver = topology.require(d.address()).driver();
          if (!driver.equals(Optional.of(d.vfioDriver().orElse(VFIO)))) {
            out.add("lease of " + lease.owner() + " is BOUND but " + d.address() + " is on "
                + driver.orElse("no driver"));
          }
        }
        lease.partitionId().ifPresent(p -> {
          if (!active.contains(p)) {
            out.add("lease of " + lease.owner() + " is BOUND but partition " + p
                + " is inactive");
          }
        });
      }
    }
    for (PciDevice d : topology.devices()) {
      if (onVfio(d) && !leased.contains(d.address()) && !alreadyOnVfio.contains(d.address())) {
        out.add(d.address() + " is on " + d.driver().orElseThrow() + " without a lease");
      }
    }
    for (int p : active) {
      if (!leasedPartitions.contains(p)) {
        out.add("partition " + p + " is active without a lease");
      }
    }
    return out;
  }

  /** Whether {@code d} is on vfio-pci or a VFIO variant driver (nvgrace_gpu_vfio_pci). */
  private static boolean onVfio(PciDevice d) {
    return d.driver().filter(n -> n.equals(VFIO) || n.endsWith("_vfio_pci")).isPresent();
  }

  @Override
  public void close() {
    client.ifPresent(FabricManager::close);
    host.close();
  }
}
