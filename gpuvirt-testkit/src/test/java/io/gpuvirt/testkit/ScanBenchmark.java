package io.gpuvirt.testkit;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.TopologyScanner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark (not a test) of issue 18's scanner rows: a warm in-process
 * {@link TopologyScanner#scan} against one whole {@code lspci -tv -A linux-sysfs -O
 * sysfs.path=ROOT/sys/bus/pci} process on the same tree, measured alternately (same moment), on the
 * simulated HGX B200 (61 functions) and on {@link ManyBoards} (71 boards, 4,118 functions); and the
 * system calls per function of one scan and of one lspci.
 *
 * <p>Run with the test class path, core's classes first (the {@code ~/.m2} jar may be another
 * branch's):
 *
 * <pre>
 * mvn -o -q -pl gpuvirt-core,gpuvirt-testkit test-compile
 * mvn -o -q -pl gpuvirt-testkit dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt \
 *     -Dmdep.includeScope=test
 * java -cp gpuvirt-core/target/classes:gpuvirt-testkit/target/classes:\
 * gpuvirt-testkit/target/test-classes:$(cat /tmp/cp.txt) io.gpuvirt.testkit.ScanBenchmark [rounds] [boards] [nostrace]
 * </pre>
 *
 * <p>Timings: the scan reads through {@code Sysfs.at(root)} (the file-system seam a real host uses;
 * the simulated host's own {@code host.sysfs()}, which also checks for injected faults, is printed
 * beside it). Each round times one scan and one lspci process; medians over the rounds after
 * warm-up scans (at least 20, and at least 5 s of them: the JIT has compiled the scanner). {@code cpu/function} is the process's CPU time
 * (all threads) per function over as many scans again.
 *
 * <p>System calls: when {@code strace} is on the PATH, the benchmark writes the tree to a directory
 * and runs this class again as {@code ScanBenchmark scan DIR N} under {@code strace -f -c} with
 * {@code N} = 1 and {@code N} = 1 + S (each after one warm-up scan; S is 10 for the B200, 2 for
 * the large host); the difference of the two counts, divided by S and by the number of functions,
 * is what one scan costs per function, without the JVM's start-up and class loading (what is left
 * besides file calls is mostly the JVM's own threads). {@code lspci} is counted whole (start-up
 * included) under {@code strace -f -c}. Set {@code -Dgpuvirt.testkit.dir=/dev/shm} to measure a
 * RAM file system. {@code ScanBenchmark write DIR BOARDS} writes a host to keep ({@code BOARDS}
 * 0: the B200) for measuring by hand, {@code ScanBenchmark scan DIR N} scans it 1 + N times.
 *
 * <p>Measured on the 2-core development machine, /tmp, 40 rounds (issue 18), before the scanner
 * work: B200 scan 15.5 ms vs lspci 13.9 ms (1.12x), 283 us CPU per function; 4,118 functions
 * 1005 ms vs 364 ms (2.76x), 232 us CPU per function; 118 file system calls per function (38
 * readlink, 23 read, 16 statx, 14 close, 13 openat, 10 access) against lspci's 48 (53 whole).
 *
 * <p>Before and after, one run each at the same moment (load 2-4 from other builds; with the
 * warm-up of at least 5 s): B200 15.0 ms vs lspci 15.1 (0.99x) before, 13.3 ms vs 27.6 (0.48x)
 * after (other runs 0.49x-0.72x: lspci's time swings with the load); 4,118 functions 1093 ms vs
 * 352 (3.10x) before, 651 ms vs 532 (1.22x) after (other runs 1.27x-1.37x), CPU per function 237
 * -> 109 us; system calls per function 121.5 -> 66.5 (file calls 118 -> 66, with the directory
 * view's dup and fcntl) against lspci's 46-53. The rest is one stat(2) per attribute before its
 * open (the FIFO refusal; Java cannot open with O_NONBLOCK) and 4 calls per opened directory.
 */
final class ScanBenchmark {
  private static final int WARMUP = 20;
  private static final long WARMUP_NANOS = 5_000_000_000L;

  private ScanBenchmark() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    if (args.length == 3 && args[0].equals("scan")) {
      scanOnly(Path.of(args[1]), Integer.parseInt(args[2]));
      return;
    }
    if (args.length == 3 && args[0].equals("write")) {
      int n = Integer.parseInt(args[2]);
      SimulatedHost.create(n == 0 ? HostProfile.hgxB200() : ManyBoards.profile(n), Path.of(args[1]))
          .close();
      return;
    }
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
    int boards = args.length > 1 ? Integer.parseInt(args[1]) : 71;
    String lspci = tool("lspci").orElse("");
    System.out.println("host dir: " + System.getProperty(SimulatedHost.TEMP_DIR_PROPERTY,
        System.getProperty("java.io.tmpdir")) + ", lspci: " + (lspci.isEmpty() ? "none" : lspci));
    compare(HostProfile.hgxB200(), rounds, lspci);
    compare(ManyBoards.profile(boards), Math.max(5, rounds / 4), lspci);
    String strace = args.length > 2 && args[2].equals("nostrace") ? "" : tool("strace").orElse("");
    if (strace.isEmpty()) {
      System.out.println("system calls not counted (nostrace, or no strace on the PATH)");
      return;
    }
    syscalls(HostProfile.hgxB200(), 10, strace, lspci);
    syscalls(ManyBoards.profile(boards), 2, strace, lspci);
  }

  /** Scans the host at {@code root} once to warm up, then {@code scans} times (under strace). */
  private static void scanOnly(Path root, int scans) {
    Sysfs sysfs = Sysfs.at(root);
    TopologyScanner.scan(sysfs);
    for (int i = 0; i < scans; i++) {
      TopologyScanner.scan(sysfs);
    }
  }

  private static void compare(HostProfile profile, int rounds, String lspci)
      throws IOException, InterruptedException {
    try (SimulatedHost host = SimulatedHost.create(profile)) {
      Sysfs files = Sysfs.at(host.root());
      int functions = TopologyScanner.scan(files).devices().size();
      long warmUntil = System.nanoTime() + WARMUP_NANOS;
      for (int i = 0; i < WARMUP || System.nanoTime() < warmUntil; i++) {
        TopologyScanner.scan(files);
        TopologyScanner.scan(host.sysfs());
      }
      long[] scan = new long[rounds];
      long[] simulated = new long[rounds];
      long[] process = new long[rounds];
      for (int i = 0; i < rounds; i++) {
        long t0 = System.nanoTime();
        TopologyScanner.scan(files);
        scan[i] = System.nanoTime() - t0;
        long t1 = System.nanoTime();
        TopologyScanner.scan(host.sysfs());
        simulated[i] = System.nanoTime() - t1;
        if (!lspci.isEmpty()) {
          long t2 = System.nanoTime();
          runLspci(lspci, host.root());
          process[i] = System.nanoTime() - t2;
        }
      }
      Duration c0 = cpu();
      for (int i = 0; i < rounds; i++) {
        TopologyScanner.scan(files);
      }
      double cpuPerFunction = cpu().minus(c0).toNanos() / 1e3 / rounds / functions;
      System.out.printf("%-14s %5d functions: scan median %8.3f ms (process cpu/function %5.1f us),"
          + " host.sysfs() scan %8.3f ms", profile.name(), functions, median(scan) / 1e6,
          cpuPerFunction, median(simulated) / 1e6);
      if (!lspci.isEmpty()) {
        System.out.printf(", lspci -tv process %8.3f ms, scan/lspci %.2fx", median(process) / 1e6,
            median(scan) / median(process));
      }
      System.out.println();
    }
  }

  /** The CPU time of this process so far (all threads: the JIT and GC count too). */
  private static Duration cpu() {
    return ProcessHandle.current().info().totalCpuDuration().orElse(Duration.ZERO);
  }

  private static void runLspci(String lspci, Path root) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(lspciArgv(lspci, root)).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException("lspci on " + root + " failed or hung");
    }
  }

  private static List<String> lspciArgv(String lspci, Path root) {
    return List.of(lspci, "-tv", "-A", "linux-sysfs", "-O",
        "sysfs.path=" + root.resolve("sys/bus/pci"));
  }

  private static void syscalls(HostProfile profile, int scans, String strace, String lspci)
      throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("gpuvirt-scan-syscalls-");
    try (SimulatedHost host = SimulatedHost.create(profile, dir.resolve("host"))) {
      int functions = TopologyScanner.scan(Sysfs.at(host.root())).devices().size();
      Map<String, Long> one = strace(strace, dir, javaArgv(host.root(), 1));
      Map<String, Long> more = strace(strace, dir, javaArgv(host.root(), 1 + scans));
      System.out.printf("%-14s %5d functions: scan %s%n", profile.name(), functions,
          perFunction(difference(more, one), (double) scans * functions));
      if (!lspci.isEmpty()) {
        System.out.printf("%-14s %5d functions: lspci -tv (whole process) %s%n", profile.name(),
            functions, perFunction(strace(strace, dir, lspciArgv(lspci, host.root())), functions));
      }
    } finally {
      HostTree.deleteTree(dir);
    }
  }

  private static List<String> javaArgv(Path root, int scans) {
    return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), ScanBenchmark.class.getName(), "scan",
        root.toString(), Integer.toString(scans));
  }

  /** The call counts of {@code strace -f -c}, by system call. */
  private static Map<String, Long> strace(String strace, Path dir, List<String> argv)
      throws IOException, InterruptedException {
    Path out = dir.resolve("strace.txt");
    List<String> command = new ArrayList<>(List.of(strace, "-f", "-c", "-o", out.toString()));
    command.addAll(argv);
    Process p = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", command) + " failed");
    }
    Map<String, Long> calls = new TreeMap<>();
    for (String line : Files.readAllLines(out)) {
      String[] f = line.trim().split("\\s+");
      // % time, seconds, usecs/call, calls, [errors], syscall
      if (f.length >= 5 && f[0].matches("[0-9.]+") && !f[f.length - 1].equals("total")) {
        calls.put(f[f.length - 1], Long.parseLong(f[3]));
      }
    }
    return calls;
  }

  private static Map<String, Long> difference(Map<String, Long> a, Map<String, Long> b) {
    Map<String, Long> d = new TreeMap<>();
    a.forEach((k, v) -> d.put(k, v - b.getOrDefault(k, 0L)));
    return d;
  }

  /** "54.2 per function (file: openat 10.0, read 11.0, ...; other 1.2)". */
  private static String perFunction(Map<String, Long> calls, double divisor) {
    List<String> file = List.of("openat", "open", "read", "pread64", "close", "newfstatat", "stat",
        "lstat", "fstat", "statx", "readlink", "readlinkat", "getdents64", "access", "faccessat",
        "faccessat2", "dup", "fcntl");
    double total = 0;
    double fileTotal = 0;
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<String, Long> e : calls.entrySet()) {
      total += e.getValue();
      if (file.contains(e.getKey())) {
        fileTotal += e.getValue();
        if (e.getValue() != 0) {
          sb.append(String.format(" %s %.1f", e.getKey(), e.getValue() / divisor));
        }
      }
    }
    return String.format("%.1f syscalls per function, %.1f on files:%s; other %.1f",
        total / divisor, fileTotal / divisor, sb, (total - fileTotal) / divisor);
  }

  private static Optional<String> tool(String name) {
    for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
        return Optional.of(Path.of(dir, name).toString());
      }
    }
    return Optional.empty();
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
