package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.ProvisionStep;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/**
 * Benchmark (not a test): provision and tear down an 8-GPU VM (the whole-board partition) on the
 * simulated HGX B200, and report the time per cycle, the time per step and the sysfs writes per
 * device. Run with the test class path:
 * {@code java -Dgpuvirt.testkit.dir=/dev/shm -cp ... io.gpuvirt.testkit.provision.ProvisionBenchmark
 * [cycles] [gpus]}.
 */
final class ProvisionBenchmark {
  private ProvisionBenchmark() {}

  public static void main(String[] args) {
    int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 50;
    int gpus = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    int warmup = Math.max(5, cycles / 5);
    Map<ProvisionStep, Long> stepNanos = new EnumMap<>(ProvisionStep.class);
    try (SimulatedSite site = SimulatedSite.partitioned(SimulatedHost.hgxB200())) {
      System.out.println("host: " + site.root());
      boolean[] measuring = {false};
      Provisioner provisioner = site.provisioner(event -> {
        if (measuring[0] && event.kind() == ProgressEvent.Kind.FINISHED) {
          stepNanos.merge(event.step(), event.elapsed().toNanos(), Long::sum);
        }
      });
      AllocationRequest request = AllocationRequest.builder("vm-bench").count(gpus).build();
      long[] provision = new long[cycles];
      long[] teardown = new long[cycles];
      long writes = 0;
      int devices = 0;
      for (int i = -warmup; i < cycles; i++) {
        measuring[0] = i >= 0;
        long w0 = site.host().writeCount();
        long t0 = System.nanoTime();
        Provisioned p = provisioner.provision(request);
        long t1 = System.nanoTime();
        provisioner.teardown("vm-bench");
        long t2 = System.nanoTime();
        if (i >= 0) {
          provision[i] = t1 - t0;
          teardown[i] = t2 - t1;
          writes += site.host().writeCount() - w0;
          devices = p.lease().passedThroughDevices().size();
        }
      }
      System.out.printf("%d-GPU VM, %d cycles after %d warm-up: provision median %.1f ms,"
          + " teardown median %.1f ms, cycle median %.1f ms%n", gpus, cycles, warmup,
          median(provision) / 1e6, median(teardown) / 1e6, median(sum(provision, teardown)) / 1e6);
      System.out.printf("sysfs writes per cycle %.1f, per device %.1f (%d devices)%n",
          (double) writes / cycles, (double) writes / cycles / devices, devices);
      stepNanos.forEach((step, nanos) -> System.out.printf("  %-22s mean %7.2f ms%n", step,
          nanos / 1e6 / cycles));
    }
  }

  private static long[] sum(long[] a, long[] b) {
    long[] s = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      s[i] = a[i] + b[i];
    }
    return s;
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
