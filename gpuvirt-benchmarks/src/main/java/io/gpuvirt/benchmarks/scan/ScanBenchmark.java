package io.gpuvirt.benchmarks.scan;

import io.gpuvirt.benchmarks.Hosts;
import io.gpuvirt.benchmarks.Processes;
import io.gpuvirt.benchmarks.Scratch;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Issue 18's scanner rows: a warm in-process {@link TopologyScanner#scan} of a simulated host
 * through {@code Sysfs.at(root)} (the file-system seam a real host uses) against its baseline, one
 * whole {@code lspci -tv -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci} process reading the same
 * tree (start-up, reading and printing, output discarded). {@link #host} is the simulated HGX B200
 * (61 functions) or {@code hgx-b200-x71}, 71 B200 boards of 58 functions, one PCI domain each
 * (4,118 functions). Sample time per call; the table compares the medians. Each fork writes the
 * host under {@code gpuvirt.benchmarks.dir} (default {@code java.io.tmpdir}) and deletes it after.
 * Needs {@code lspci} (pciutils) on the PATH or in /usr/sbin, /sbin for the baseline.
 *
 * <p>History, from the test-source program this replaces (alternating scan and lspci rounds,
 * medians, /tmp, the 2-core development machine): before the scanner work, B200 15.5 ms vs lspci
 * 13.9 ms (1.12x), 4,118 functions 1005 ms vs 364 ms (2.76x), 118 file system calls per function
 * against lspci's 48; after it (load 2-4), B200 13.3 ms vs 27.6 ms (0.48x; other runs 0.49x-0.72x,
 * lspci's time swings with the load), 4,118 functions 651 ms vs 532 ms (1.22x), CPU per function
 * 237 to 109 us, 66.5 system calls per function against lspci's 46-53.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ScanBenchmark {
  /** The simulated host: {@code hgx-b200}, or {@code hgx-b200-xN} for N boards. */
  @Param({Hosts.B200, "hgx-b200-x71"})
  public String host;

  private Scratch scratch;
  private SimulatedHost simulated;
  private Sysfs sysfs;
  private List<String> lspci;

  /** Writes the host and scans it once (its function count is checked by the table). */
  @Setup(Level.Trial)
  public void writeHost() {
    scratch = Scratch.create(host);
    simulated = Hosts.write(host, scratch);
    sysfs = Sysfs.at(simulated.root());
    TopologyScanner.scan(sysfs);
    lspci = lspciArgv(Processes.tool("lspci").map(Path::toString).orElse("lspci"),
        simulated.root());
  }

  /** Deletes the host. */
  @TearDown(Level.Trial)
  public void deleteHost() {
    simulated.close();
    scratch.close();
  }

  /** One whole scan, in this warm JVM. */
  @Benchmark
  public Topology scan() {
    return TopologyScanner.scan(sysfs);
  }

  /** The baseline: one whole {@code lspci -tv} process on the same tree. */
  @Benchmark
  public void lspci() {
    try {
      Processes.run(lspci, 120);
    } catch (GpuvirtException e) {
      throw new GpuvirtException(e.getMessage() + " (install pciutils for the scan baseline)", e);
    }
  }

  /** {@code lspci -tv -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci}. */
  public static List<String> lspciArgv(String lspci, Path root) {
    return List.of(lspci, "-tv", "-A", "linux-sysfs", "-O",
        "sysfs.path=" + root.resolve("sys/bus/pci"));
  }
}
