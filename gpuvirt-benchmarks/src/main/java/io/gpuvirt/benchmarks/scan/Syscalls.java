package io.gpuvirt.benchmarks.scan;

import io.gpuvirt.benchmarks.Hosts;
import io.gpuvirt.benchmarks.Processes;
import io.gpuvirt.benchmarks.Scratch;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Issue 18's "system calls per device in a scan" row, which JMH cannot express: the system calls
 * of one scan per function against those of one whole {@code lspci -tv} process per function, both
 * counted with {@code strace -f -c} on the same tree.
 *
 * <p>The scan's count is a difference, so that the JVM's start-up and class loading drop out:
 * {@link ScanChild} runs in a child JVM (the module's class path) under {@code strace -f -c} with
 * {@code N} = 1 and with {@code N} = 1 + S scans, both after W warm-up scans ({@value #WARM_UP}
 * for the table, 1 in quick mode); the difference of the two totals, divided by {@code S} and by
 * the number of functions, is one warm scan's calls per function. The warm-up is long so that the JIT compiler's threads have settled:
 * after a single warm-up scan the compiler was still at work during the S scans, and its
 * {@code gettid} calls (from {@code ciEnv}, about 11 per function) were counted as the scan's. What
 * is left besides file calls is the JVM's own (GC, safepoints). lspci is counted whole, its
 * start-up included.
 *
 * @param host the host's name ({@link Hosts})
 * @param functions its PCI functions
 * @param scan the scan's system calls per function
 * @param scanFileCalls of those, calls on files (open, read, stat, readlink, getdents, close, ...)
 * @param lspci lspci's system calls per function
 * @param lspciFileCalls of those, calls on files
 */
public record Syscalls(String host, int functions, double scan, double scanFileCalls, double lspci,
    double lspciFileCalls) {
  /** Warm-up scans before either counted run, in both: the JIT has compiled the scan by then. */
  public static final int WARM_UP = 200;

  private static final List<String> FILE_CALLS = List.of("openat", "open", "read", "pread64",
      "close", "newfstatat", "stat", "lstat", "fstat", "statx", "readlink", "readlinkat",
      "getdents64", "access", "faccessat", "faccessat2", "dup", "fcntl");

  /**
   * Counts the host {@code hostName}'s calls with {@code strace}, {@code scans} (S) measured scans
   * after {@code warmUp} (W) scans.
   *
   * @throws GpuvirtException when strace or lspci fails
   */
  public static Syscalls count(String hostName, int scans, int warmUp, Path strace, Path lspci) {
    try (Scratch scratch = Scratch.create("syscalls");
        SimulatedHost host = Hosts.write(hostName, scratch)) {
      int functions = TopologyScanner.scan(Sysfs.at(host.root())).devices().size();
      Map<String, Long> one = strace(strace, scratch.dir(), child(host.root(), 1, warmUp));
      Map<String, Long> more = strace(strace, scratch.dir(), child(host.root(), 1 + scans, warmUp));
      Map<String, Long> diff = new TreeMap<>();
      more.forEach((k, v) -> diff.put(k, v - one.getOrDefault(k, 0L)));
      Map<String, Long> ls = strace(strace, scratch.dir(), ScanBenchmark.lspciArgv(lspci.toString(),
          host.root()));
      double perScan = (double) scans * functions;
      return new Syscalls(hostName, functions, total(diff, false) / perScan,
          total(diff, true) / perScan, total(ls, false) / functions,
          total(ls, true) / functions);
    }
  }

  private static List<String> child(Path root, int scans, int warmUp) {
    return Processes.childJvm(ScanChild.class, List.of(root.toString(), Integer.toString(scans),
        Integer.toString(warmUp)));
  }

  private static double total(Map<String, Long> calls, boolean filesOnly) {
    return calls.entrySet().stream().filter(e -> !filesOnly || FILE_CALLS.contains(e.getKey()))
        .mapToLong(Map.Entry::getValue).sum();
  }

  /** The call counts of {@code strace -f -c} running {@code argv}, by system call. */
  private static Map<String, Long> strace(Path strace, Path dir, List<String> argv) {
    Path out = dir.resolve("strace.txt");
    List<String> command = new ArrayList<>(List.of(strace.toString(), "-f", "-c", "-o",
        out.toString()));
    command.addAll(argv);
    Processes.run(command, 600);
    Map<String, Long> calls = new TreeMap<>();
    try {
      for (String line : Files.readAllLines(out)) {
        String[] f = line.trim().split("\\s+");
        // % time, seconds, usecs/call, calls, [errors], syscall
        if (f.length >= 5 && f[0].matches("[0-9.]+") && !f[f.length - 1].equals("total")) {
          calls.put(f[f.length - 1], Long.parseLong(f[3]));
        }
      }
    } catch (IOException e) {
      throw new GpuvirtException("benchmark: cannot read strace's summary " + out + " (" + e
          + ")", e);
    }
    return calls;
  }
}
