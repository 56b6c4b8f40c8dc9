package io.gpuvirt.benchmarks.provision;

import io.gpuvirt.benchmarks.Hosts;
import io.gpuvirt.benchmarks.Scratch;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Issue 18's provisioning row, which JMH cannot express (what is measured is a part of each
 * call): provision and tear down an 8-GPU VM (the whole-board Fabric Manager partition) on the
 * simulated HGX B200, warm, and take gpuvirt's own time per cycle: the cycle less the time spent
 * inside the simulation, that is inside every sysfs write (the simulated kernel reacts there:
 * unbinding, probing, the VFIO group nodes) and inside every call to the simulated Fabric Manager.
 * What is left is gpuvirt's work, its sysfs reads and its ledger commits (fsyncs) included; the
 * host and its ledger ({@code var/lib/gpuvirt} under the host root) are written under
 * {@code gpuvirt.benchmarks.dir} (default {@code java.io.tmpdir}), so the fsyncs are that disk's.
 * Built from the public API: {@link SimulatedHost}, {@link SimulatedFabric#underHostRoot},
 * {@link Provisioner#builder}{@code .partitions(new PartitionContext(..))}.
 *
 * @param gpus GPUs of the VM
 * @param cycles measured cycles (after as many again, at least 5, of warm-up)
 * @param cycleMillis median time of a whole cycle, simulation included
 * @param ownMillis median of gpuvirt's own time per cycle
 * @param scansPerCycle topology scans gpuvirt started per cycle (listings of
 *     {@code /sys/bus/pci/devices})
 * @param writesPerCycle sysfs writes per cycle
 */
public record ProvisionCycle(int gpus, int cycles, double cycleMillis, double ownMillis,
    double scansPerCycle, double writesPerCycle) {

  /** Time spent in the simulation, and how many scans gpuvirt started. */
  private static final class Simulation {
    long nanos;
    long scans;
    long writes;

    <T> T timed(Supplier<T> call) {
      long t0 = System.nanoTime();
      try {
        return call.get();
      } finally {
        nanos += System.nanoTime() - t0;
      }
    }

    void timed(Runnable call) {
      timed(() -> {
        call.run();
        return null;
      });
    }
  }

  /** Measures {@code cycles} cycles of an {@code gpus}-GPU VM (8: the whole board). */
  public static ProvisionCycle measure(int gpus, int cycles) {
    int warmup = Math.max(5, cycles);
    Simulation sim = new Simulation();
    try (Scratch scratch = Scratch.create("provision");
        SimulatedHost host = Hosts.write(Hosts.B200, scratch)) {
      SimulatedFabric fabric = SimulatedFabric.underHostRoot(host.root());
      FabricManager client = fabric.connect();
      try {
        LeaseLedger ledger = LeaseLedger.open(host.root().resolve("var/lib/gpuvirt"));
        Provisioner provisioner = Provisioner.builder(timed(host.sysfs(), sim), ledger)
            .partitions(new PartitionContext(timed(client, sim), fabric.moduleIdMap())).build();
        AllocationRequest request = AllocationRequest.builder("vm-bench").count(gpus).build();
        long[] cycle = new long[cycles];
        long[] own = new long[cycles];
        long scans = 0;
        long writes = 0;
        for (int i = -warmup; i < cycles; i++) {
          long s0 = sim.scans;
          long w0 = sim.writes;
          long simulated0 = sim.nanos;
          long t0 = System.nanoTime();
          provisioner.provision(request);
          provisioner.teardown("vm-bench");
          long t1 = System.nanoTime();
          if (i >= 0) {
            cycle[i] = t1 - t0;
            own[i] = cycle[i] - (sim.nanos - simulated0);
            scans += sim.scans - s0;
            writes += sim.writes - w0;
          }
        }
        return new ProvisionCycle(gpus, cycles, median(cycle) / 1e6, median(own) / 1e6,
            (double) scans / cycles, (double) writes / cycles);
      } finally {
        client.close();
      }
    }
  }

  /** The host's sysfs, every call passed on; writes timed, scans and writes counted. */
  private static Sysfs timed(Sysfs host, Simulation sim) {
    return new Sysfs() {
      @Override
      public void write(String path, String value) {
        sim.writes++;
        sim.timed(() -> host.write(path, value));
      }

      @Override
      public List<String> list(String directory) {
        if (directory.equals("/sys/bus/pci/devices")) {
          sim.scans++;
        }
        return host.list(directory);
      }

      @Override
      public Path root() {
        return host.root();
      }

      @Override
      public boolean exists(String path) {
        return host.exists(path);
      }

      @Override
      public boolean isDirectory(String path) {
        return host.isDirectory(path);
      }

      @Override
      public String read(String path) {
        return host.read(path);
      }

      @Override
      public byte[] readBytes(String path) {
        return host.readBytes(path);
      }

      @Override
      public Optional<String> readIfExists(String path) {
        return host.readIfExists(path);
      }

      @Override
      public Optional<byte[]> readBytesIfExists(String path) {
        return host.readBytesIfExists(path);
      }

      @Override
      public Directory directory(String directory) {
        Directory d = host.directory(directory);
        if (!directory.equals("/sys/bus/pci/devices")) {
          return d;
        }
        return new Directory() {
          @Override
          public List<String> list() {
            sim.scans++;
            return d.list();
          }

          @Override
          public boolean exists(String name) {
            return d.exists(name);
          }

          @Override
          public String read(String name) {
            return d.read(name);
          }

          @Override
          public Optional<String> readIfExists(String name) {
            return d.readIfExists(name);
          }

          @Override
          public Optional<byte[]> readBytesIfExists(String name) {
            return d.readBytesIfExists(name);
          }

          @Override
          public Optional<String> readLink(String name) {
            return d.readLink(name);
          }

          @Override
          public void close() {
            d.close();
          }
        };
      }

      @Override
      public Optional<String> readLink(String path) {
        return host.readLink(path);
      }

      @Override
      public String canonicalPath(String path) {
        return host.canonicalPath(path);
      }
    };
  }

  /** The Fabric Manager client, every call timed. */
  private static FabricManager timed(FabricManager fm, Simulation sim) {
    return new FabricManager() {
      @Override
      public List<FabricPartition> listPartitions() {
        return sim.timed(fm::listPartitions);
      }

      @Override
      public void activate(int partitionId) {
        sim.timed(() -> fm.activate(partitionId));
      }

      @Override
      public void deactivate(int partitionId) {
        sim.timed(() -> fm.deactivate(partitionId));
      }

      @Override
      public void setActivatedPartitions(Collection<Integer> partitionIds) {
        sim.timed(() -> fm.setActivatedPartitions(partitionIds));
      }

      @Override
      public List<Integer> unsupportedPartitionIds() {
        return sim.timed(fm::unsupportedPartitionIds);
      }

      @Override
      public NvlinkFailedDevices nvlinkFailedDevices() {
        return sim.timed(fm::nvlinkFailedDevices);
      }

      @Override
      public void close() {
        // closed by measure
      }
    };
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
