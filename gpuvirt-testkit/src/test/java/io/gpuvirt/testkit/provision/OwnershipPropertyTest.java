package io.gpuvirt.testkit.provision;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.alloc.LeaseOrigin;
import io.gpuvirt.core.alloc.LeaseState;
import io.gpuvirt.core.alloc.LeasedDevice;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.vfio.BindRequest;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.core.vfio.VfioDrivers;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.RandomHosts;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One owner per device, over random interleavings of provision, teardown, bind, restore,
 * recover and Fabric Manager restarts, run alternately by this JVM and by a second process (a
 * {@link ProvisionWorker} serving {@link Operation} lines) on the same host and state directory.
 *
 * <p>Before the first step some devices get a {@code driver_override} (pinned to the driver they
 * are on, as an admin would) and, where the host has two GPUs or more, one GPU's group is put on
 * vfio-pci without a lease (in use outside gpuvirt). After every step: a device on a VFIO driver is
 * held by exactly one lease, unless it is the one in use outside gpuvirt, which no lease ever
 * holds; no device is held by two leases; every device no lease holds has the driver and
 * driver_override it had before the first step; a lease that ended left each of its devices on
 * the driver and driver_override it recorded; no lease is left in a journal state; no partition
 * is active without a lease, and a BOUND lease's partition is active. Refusals are fine outcomes,
 * any other exception fails the run. A failure names the seed and every step so far.
 */
final class OwnershipPropertyTest {
  private static final int STEPS = 30;
  private static final int RANDOM_HOST_SEEDS = 3;
  private static final int PARTITION_SEEDS = 2;
  private static final List<String> VMS = List.of("vm-a", "vm-b", "vm-c");
  private static final List<String> MANUAL = List.of("manual-a", "manual-b");
  private static final String FM_RESTART = "fabric-manager-restart";

  @TempDir
  Path logs;

  @Test
  void randomInterleavings_randomHostsInGroupMode_keepOneOwnerPerDevice() throws Exception {
    Set<String> exercised = new TreeSet<>();
    int hostsWithGpus = 0;
    for (long seed = 0; hostsWithGpus < RANDOM_HOST_SEEDS; seed++) {
      HostProfile profile = RandomHosts.profile(new SplittableRandom(seed));
      if (profile.gpus().isEmpty()) {
        continue;
      }
      try (SimulatedSite site = SimulatedSite.groups(SimulatedHost.create(profile))) {
        if (!site.scan().iommuEnabled()
            || !site.host().sysfs().isDirectory("/sys/bus/pci/drivers/" + BindRequest.VFIO_PCI)) {
          // Nothing can be bound there: the fault matrix covers those hosts.
          continue;
        }
        hostsWithGpus++;
        exercised.addAll(new Run(site, seed, logs.resolve("groups-" + seed + ".log")).run());
      }
    }
    assertTrue(exercised.containsAll(Set.of("bind", "provision", "restore", "teardown")),
        "operations that changed something over " + hostsWithGpus + " hosts: " + exercised);
  }

  @Test
  void randomInterleavings_hgxB200InPartitionMode_keepOneOwnerPerDevice() throws Exception {
    Set<String> exercised = new TreeSet<>();
    for (long seed = 100; seed < 100 + PARTITION_SEEDS; seed++) {
      try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
        exercised.addAll(new Run(site, seed, logs.resolve("partitions-" + seed + ".log")).run());
      }
    }
    assertTrue(exercised.containsAll(Set.of("bind", "provision", "restore", "teardown",
        FM_RESTART, "resync")), "operations that changed something: " + exercised);
  }

  /** One seeded run of {@value #STEPS} steps on one site. */
  private static final class Run {
    private final SimulatedSite site;
    private final long seed;
    private final Path log;
    private final SplittableRandom rnd;
    private final List<String> steps = new ArrayList<>();
    private final Map<String, String> remembered = new HashMap<>();
    private final Set<PciAddress> outside = new TreeSet<>();
    private HostSnapshot baseline;

    Run(SimulatedSite site, long seed, Path log) {
      this.site = site;
      this.seed = seed;
      this.log = log;
      this.rnd = new SplittableRandom(seed * 7919 + 17);
    }

    /** Runs the steps; returns the operations that changed something (see {@link #effect}). */
    Set<String> run() throws Exception {
      Set<String> exercised = new TreeSet<>();
      prepareHost();
      baseline = site.snapshot();
      baseline.devices().stream().filter(d -> d.driver().filter(VfioDrivers::isVfioDriver)
          .isPresent()).forEach(d -> outside.add(d.address()));
      Provisioner here = site.provisioner();
      ChildJvm child = ChildJvm.start(log, site.root().toString(),
          site.partitionMode() ? "partitions" : "groups", "serve");
      int sent = 0;
      try {
        for (int i = 0; i < STEPS; i++) {
          String command = nextCommand();
          List<Lease> before = site.ledger().leases();
          String outcome;
          String by;
          if (command.equals(FM_RESTART)) {
            by = "test";
            site.fabric().restartInResiliencyMode(Duration.ofMinutes(10));
            outcome = Operation.OK;
          } else if (i % 2 == 0) {
            by = "this JVM";
            outcome = Operation.run(here, command);
          } else {
            by = "child JVM";
            child.send(command);
            sent++;
            String answer = child.awaitLine(ProvisionWorker.ANSWER + sent + " ");
            outcome = answer.substring((ProvisionWorker.ANSWER + sent + " ").length());
          }
          steps.add((i + 1) + ". [" + by + "] " + command + " -> " + outcome);
          effect(command, outcome).ifPresent(exercised::add);
          if (site.partitionMode() && steps.size() > 1
              && steps.get(steps.size() - 2).contains("] " + FM_RESTART)
              && !command.equals(FM_RESTART) && outcome.startsWith(Operation.OK)) {
            exercised.add("resync");
          }
          if (outcome.startsWith(Operation.ERROR)) {
            fail("step " + (i + 1) + " failed unexpectedly");
          }
          List<String> violations = violations(before);
          if (!violations.isEmpty()) {
            fail("after step " + (i + 1) + ": " + String.join("; ", violations));
          }
        }
      } finally {
        child.kill();
      }
      return exercised;
    }

    /** The operation's name if it succeeded and changed something. */
    private Optional<String> effect(String command, String outcome) {
      String op = command.split(" ")[0];
      boolean changed = outcome.startsWith(Operation.OK)
          && !outcome.endsWith("held a lease: false") && !outcome.endsWith("ended []")
          && !outcome.endsWith("recovered []");
      return changed ? Optional.of(op) : Optional.empty();
    }

    /** Pins some drivers with driver_override and puts one GPU group in use outside gpuvirt. */
    private void prepareHost() {
      Topology topology = site.scan();
      for (PciDevice d : topology.devices()) {
        if (!d.isBridge() && d.driver().isPresent() && rnd.nextInt(3) == 0) {
          site.host().sysfs().write(d.address().sysfsPath("driver_override"), d.driver().get());
        }
      }
      List<PciDevice> gpus = grouped(topology.gpus());
      if (gpus.size() >= 2) {
        PciDevice gpu = gpus.get(rnd.nextInt(gpus.size()));
        VfioBinder.on(site.host().sysfs()).bind(BindRequest.builder()
            .devices(groupEndpoints(topology, gpu.address())).driver(BindRequest.VFIO_PCI)
            .resetBeforeBind(false).build());
      }
    }

    private String nextCommand() {
      int ops = site.partitionMode() ? 12 : 11;
      int pick = rnd.nextInt(ops);
      if (pick < 3) {
        String owner = VMS.get(rnd.nextInt(VMS.size()));
        return remember(owner, () -> Operation.provision(owner, count()));
      } else if (pick < 5) {
        List<String> all = new ArrayList<>(VMS);
        all.addAll(MANUAL);
        return Operation.teardown(all.get(rnd.nextInt(all.size())));
      } else if (pick < 7) {
        String owner = MANUAL.get(rnd.nextInt(MANUAL.size()));
        return remember(owner, () -> Operation.bind(owner, rnd.nextBoolean(), bindDevices()));
      } else if (pick < 10) {
        return Operation.restore(restoreDevices());
      } else if (pick < 11) {
        return Operation.recover();
      }
      return FM_RESTART;
    }

    /** The owner's earlier command while it holds a lease (so a repeat is idempotent). */
    private String remember(String owner, java.util.function.Supplier<String> fresh) {
      if (site.ledger().lease(owner).isEmpty() || !remembered.containsKey(owner)) {
        remembered.put(owner, fresh.get());
      }
      return remembered.get(owner);
    }

    private int count() {
      if (site.partitionMode()) {
        return List.of(1, 1, 2, 2, 4, 8).get(rnd.nextInt(6));
      }
      return 1 + rnd.nextInt(Math.min(3, site.host().profile().gpus().size()));
    }

    /** Mostly a device's whole group of endpoints; sometimes the device alone. */
    private List<PciAddress> bindDevices() {
      Topology topology = site.scan();
      List<PciDevice> endpoints = grouped(topology.devices());
      List<PciDevice> gpus = grouped(topology.gpus());
      PciDevice d = !gpus.isEmpty() && rnd.nextInt(4) != 0 ? gpus.get(rnd.nextInt(gpus.size()))
          : endpoints.get(rnd.nextInt(endpoints.size()));
      return rnd.nextInt(4) == 0 ? List.of(d.address()) : groupEndpoints(topology, d.address());
    }

    /** Mostly a device of a manual binding; sometimes any device (then usually refused). */
    private List<PciAddress> restoreDevices() {
      List<Lease> bound = site.ledger().leases().stream()
          .filter(l -> l.origin() == LeaseOrigin.BIND).toList();
      if (!bound.isEmpty() && rnd.nextInt(3) != 0) {
        List<LeasedDevice> devices = bound.get(rnd.nextInt(bound.size())).passedThroughDevices();
        return List.of(devices.get(rnd.nextInt(devices.size())).address());
      }
      List<PciDevice> all = site.scan().devices().stream().filter(d -> !d.isBridge()).toList();
      return List.of(all.get(rnd.nextInt(all.size())).address());
    }

    private List<String> violations(List<Lease> before) {
      Topology topology = site.scan();
      List<Lease> leases = site.ledger().leases();
      Map<PciAddress, PciDevice> was = new TreeMap<>();
      baseline.devices().forEach(d -> was.put(d.address(), d));
      Map<PciAddress, List<String>> holders = new TreeMap<>();
      Map<PciAddress, List<String>> passedThrough = new TreeMap<>();
      List<String> out = new ArrayList<>();
      for (Lease l : leases) {
        l.devices().forEach(d -> holders.computeIfAbsent(d.address(), a -> new ArrayList<>())
            .add(l.owner()));
        l.passedThroughDevices().forEach(d -> passedThrough.computeIfAbsent(d.address(),
            a -> new ArrayList<>()).add(l.owner()));
        if (l.state().inFlight()) {
          out.add("lease of " + l.owner() + " left in journal state " + l.state());
        }
        if (l.state() == LeaseState.BOUND) {
          for (LeasedDevice d : l.passedThroughDevices()) {
            Optional<String> now = topology.require(d.address()).driver();
            String expected = d.vfioDriver().orElse(BindRequest.VFIO_PCI);
            if (!now.equals(Optional.of(expected))) {
              out.add("lease of " + l.owner() + " is BOUND but " + d.address() + " is on "
                  + now.orElse("no driver") + ", not " + expected);
            }
          }
        }
      }
      holders.forEach((a, owners) -> {
        if (owners.size() > 1) {
          out.add(a + " is held by " + owners.size() + " leases " + owners);
        }
      });
      for (PciDevice d : topology.devices()) {
        PciAddress a = d.address();
        List<String> owners = passedThrough.getOrDefault(a, List.of());
        if (outside.contains(a)) {
          if (!holders.getOrDefault(a, List.of()).isEmpty()) {
            out.add(a + " is in use outside gpuvirt (on VFIO without a lease before the first"
                + " step) but leased to " + holders.get(a));
          }
        } else if (d.driver().filter(VfioDrivers::isVfioDriver).isPresent() && owners.size() != 1) {
          out.add(a + " is on " + d.driver().get() + " but held by " + owners.size()
              + " leases " + owners);
        }
        PciDevice then = was.get(a);
        if (!holders.containsKey(a) && then != null && (!then.driver().equals(d.driver())
            || !then.driverOverride().equals(d.driverOverride()))) {
          out.add(a + " is held by no lease but moved from driver " + then.driver().orElse("-")
              + ", override " + then.driverOverride().orElse("-") + " to driver "
              + d.driver().orElse("-") + ", override " + d.driverOverride().orElse("-"));
        }
      }
      Set<String> owners = new TreeSet<>();
      leases.forEach(l -> owners.add(l.owner()));
      for (Lease ended : before) {
        Optional<Lease> now = leases.stream().filter(l -> l.owner().equals(ended.owner()))
            .findFirst();
        if (now.isPresent() && now.get().createdAt().equals(ended.createdAt())) {
          continue;
        }
        for (LeasedDevice d : ended.passedThroughDevices()) {
          if (holders.containsKey(d.address())) {
            continue; // leased again in the same step (a bind or provision after an undo)
          }
          PciDevice host = topology.require(d.address());
          if (!host.driver().equals(d.originalDriver())
              || !host.driverOverride().equals(d.originalOverride())) {
            out.add("the lease of " + ended.owner() + " ended but " + d.address() + " is on "
                + host.driver().orElse("no driver") + " with override "
                + host.driverOverride().orElse("none") + ", not its recorded "
                + d.originalDriver().orElse("no driver") + " with override "
                + d.originalOverride().orElse("none"));
          }
        }
      }
      if (site.partitionMode()) {
        List<Integer> active = site.fabric().activePartitionIds();
        Set<Integer> leased = new TreeSet<>();
        leases.forEach(l -> l.partitionId().ifPresent(leased::add));
        for (int p : active) {
          if (!leased.contains(p)) {
            out.add("partition " + p + " is active without a lease");
          }
        }
        for (Lease l : leases) {
          if (l.state() == LeaseState.BOUND && l.partitionId().isPresent()
              && !active.contains(l.partitionId().getAsInt())) {
            out.add("lease of " + l.owner() + " is BOUND but partition "
                + l.partitionId().getAsInt() + " is inactive");
          }
        }
      }
      return out;
    }

    private void fail(String what) {
      throw new AssertionError("seed " + seed + " (" + (site.partitionMode()
          ? "hgx-b200, partition mode" : "random host, group mode") + "), " + what
          + "\nsteps:\n  " + String.join("\n  ", steps));
    }
  }

  /** The endpoints (not bridges) of {@code devices} that are in an IOMMU group. */
  private static List<PciDevice> grouped(List<PciDevice> devices) {
    return devices.stream().filter(d -> !d.isBridge() && d.iommuGroup().isPresent()).toList();
  }

  /** The endpoints (not bridges) of the IOMMU group of {@code device}. */
  static List<PciAddress> groupEndpoints(Topology topology, PciAddress device) {
    return topology.members(topology.groupOf(device).orElseThrow()).stream()
        .filter(d -> !d.isBridge()).map(PciDevice::address).toList();
  }
}
