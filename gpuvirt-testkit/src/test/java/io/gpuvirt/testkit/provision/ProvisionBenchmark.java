package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.ProgressListener;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.testkit.ForwardingSysfs;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Benchmark (not a test): provision and tear down an 8-GPU VM (the whole-board partition) on the
 * simulated HGX B200, and report the time per cycle, gpuvirt's own share of it, the time per step,
 * the topology scans and the sysfs writes per cycle. gpuvirt's own time is the cycle less the time
 * spent inside the simulated kernel (every sysfs write runs the kernel model: unbinding, probing,
 * the VFIO group nodes) and inside the simulated Fabric Manager; what is left is gpuvirt's work,
 * including its sysfs reads and its ledger commits (fsyncs). Run with the test class path:
 * {@code java -Dgpuvirt.testkit.dir=DIR -cp ... io.gpuvirt.testkit.provision.ProvisionBenchmark
 * [cycles] [gpus]}; put DIR on a real disk to count the ledger's fsyncs in.
 */
final class ProvisionBenchmark {
  private ProvisionBenchmark() {}

  /** Time spent in the simulation, and how many scans gpuvirt started. */
  private static final class Simulation {
    long nanos;
    long scans;

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

  public static void main(String[] args) {
    int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 50;
    int gpus = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    int warmup = Math.max(5, cycles / 5);
    Map<ProvisionStep, Long> stepNanos = new EnumMap<>(ProvisionStep.class);
    Simulation sim = new Simulation();
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      System.out.println("host: " + site.root());
      boolean[] measuring = {false};
      ProgressListener listener = event -> {
        if (measuring[0] && event.kind() == ProgressEvent.Kind.FINISHED) {
          stepNanos.merge(event.step(), event.elapsed().toNanos(), Long::sum);
        }
      };
      Provisioner provisioner = site.provisioner(timedSysfs(site.host().sysfs(), sim),
          fm -> timedFabric(fm, sim)).listener(listener).build();
      AllocationRequest request = AllocationRequest.builder("vm-bench").count(gpus).build();
      long[] cycle = new long[cycles];
      long[] own = new long[cycles];
      long writes = 0;
      long scans = 0;
      int devices = 0;
      for (int i = -warmup; i < cycles; i++) {
        measuring[0] = i >= 0;
        long w0 = site.host().writeCount();
        long s0 = sim.scans;
        long simulated0 = sim.nanos;
        long t0 = System.nanoTime();
        Provisioned p = provisioner.provision(request);
        provisioner.teardown("vm-bench");
        long t1 = System.nanoTime();
        if (i >= 0) {
          cycle[i] = t1 - t0;
          own[i] = cycle[i] - (sim.nanos - simulated0);
          writes += site.host().writeCount() - w0;
          scans += sim.scans - s0;
          devices = p.lease().passedThroughDevices().size();
        }
      }
      System.out.printf("%d-GPU VM, %d provision+teardown cycles after %d warm-up: cycle median"
          + " %.1f ms, gpuvirt's own time median %.1f ms (simulated kernel and Fabric Manager"
          + " excluded)%n", gpus, cycles, warmup, median(cycle) / 1e6, median(own) / 1e6);
      System.out.printf("per cycle: %.1f topology scans, %.1f sysfs writes (%.1f per device, %d"
          + " devices)%n", (double) scans / cycles, (double) writes / cycles,
          (double) writes / cycles / devices, devices);
      stepNanos.forEach((step, nanos) -> System.out.printf("  %-22s mean %7.2f ms%n", step,
          nanos / 1e6 / cycles));
    }
  }

  /** The host's sysfs, timing each write (the kernel model runs there) and counting scans. */
  private static Sysfs timedSysfs(Sysfs host, Simulation sim) {
    return new ForwardingSysfs(host) {
      @Override
      public void write(String path, String value) {
        sim.timed(() -> super.write(path, value));
      }

      @Override
      public List<String> list(String directory) {
        if (directory.equals("/sys/bus/pci/devices")) {
          sim.scans++;
        }
        return super.list(directory);
      }
    };
  }

  /** The Fabric Manager client, timing each call. */
  private static FabricManager timedFabric(FabricManager fm, Simulation sim) {
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
        // the site closes the client
      }
    };
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
