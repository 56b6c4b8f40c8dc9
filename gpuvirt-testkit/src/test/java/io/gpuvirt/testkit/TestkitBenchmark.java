package io.gpuvirt.testkit;

import io.gpuvirt.core.host.Sysfs;
import java.util.Arrays;

/**
 * Benchmark (not a test): how long a simulated host takes to write and delete, to read back, and
 * how many kernel-model writes per second a driver switch loop gets. Run with the test classpath:
 * {@code java -cp ... io.gpuvirt.testkit.TestkitBenchmark [rounds]}; set
 * {@code -Dgpuvirt.testkit.dir=/dev/shm} to measure a RAM file system.
 */
final class TestkitBenchmark {
  private TestkitBenchmark() {}

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    System.out.println("host dir: " + System.getProperty(SimulatedHost.TEMP_DIR_PROPERTY,
        System.getProperty("java.io.tmpdir")));
    for (String name : HostProfile.presetNames()) {
      HostProfile p = HostProfile.preset(name);
      long[] create = new long[rounds];
      long[] scan = new long[rounds];
      for (int i = 0; i < rounds; i++) {
        long t0 = System.nanoTime();
        try (SimulatedHost h = SimulatedHost.create(p)) {
          long t1 = System.nanoTime();
          ContractReader.scan(h.sysfs());
          scan[i] = System.nanoTime() - t1;
          create[i] = t1 - t0;
        }
      }
      System.out.printf("%-12s %3d functions: create median %6.1f ms, read back median %6.1f ms%n",
          name, p.devices().size(), median(create) / 1e6, median(scan) / 1e6);
    }
    try (SimulatedHost h = SimulatedHost.hgxB200()) {
      Sysfs s = h.sysfs();
      String gpu = "0000:17:00.0";
      String dev = "/sys/bus/pci/devices/" + gpu;
      int cycles = rounds * 50;
      long t0 = System.nanoTime();
      for (int i = 0; i < cycles; i++) {
        s.write(dev + "/driver_override", i % 2 == 0 ? "vfio-pci" : "nvidia");
        s.write(dev + "/driver/unbind", gpu);
        s.write("/sys/bus/pci/drivers_probe", gpu);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      System.out.printf("driver switch loop: %d writes in %.2f s = %.0f writes/s%n",
          h.writeCount(), seconds, h.writeCount() / seconds);
    }
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
