package io.gpuvirt.benchmarks.cli;

import io.gpuvirt.benchmarks.Hosts;
import io.gpuvirt.benchmarks.Processes;
import io.gpuvirt.benchmarks.Scratch;
import io.gpuvirt.benchmarks.Settings;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Issue 18's CLI start-up row: {@code gpuvirt topology --root R} as a whole process on the
 * simulated HGX B200, run as {@code java -jar gpuvirt.jar ...} ({@link #jar}, the jar named by
 * {@code gpuvirt.benchmarks.cliJar}, default {@code examples/target/gpuvirt.jar}) and through the
 * launcher script beside it ({@link #launcher}, {@code gpuvirt.benchmarks.launcher}, default
 * {@code examples/target/gpuvirt}), against its baseline, a {@code java -version} process of the
 * same {@code java} ({@link #javaVersion}). Output is discarded; each must exit with 0. Sample
 * time per process; the table compares the medians. The table leaves out the method whose jar or
 * launcher is missing, saying so.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class CliStartupBenchmark {
  private Scratch scratch;
  private SimulatedHost host;
  private List<String> jar;
  private List<String> launcher;
  private List<String> javaVersion;

  /** Writes the host the command scans. */
  @Setup(Level.Trial)
  public void writeHost() {
    scratch = Scratch.create("cli");
    host = Hosts.write(Hosts.B200, scratch);
    String root = host.root().toString();
    jar = List.of(Processes.java(), "-jar", Settings.cliJar().toString(), "topology", "--root",
        root);
    launcher = List.of(Settings.launcher().toString(), "topology", "--root", root);
    javaVersion = List.of(Processes.java(), "-version");
  }

  /** Deletes the host. */
  @TearDown(Level.Trial)
  public void deleteHost() {
    host.close();
    scratch.close();
  }

  /** {@code java -jar gpuvirt.jar topology --root R}. */
  @Benchmark
  public void jar() {
    Processes.run(jar, 120);
  }

  /** {@code examples/target/gpuvirt topology --root R} (the launcher script). */
  @Benchmark
  public void launcher() {
    Processes.run(launcher, 120);
  }

  /** The baseline: {@code java -version}. */
  @Benchmark
  public void javaVersion() {
    Processes.run(javaVersion, 120);
  }
}
