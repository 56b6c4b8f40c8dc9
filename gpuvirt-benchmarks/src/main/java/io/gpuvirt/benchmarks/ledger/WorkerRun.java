package io.gpuvirt.benchmarks.ledger;

import io.gpuvirt.benchmarks.Hosts;
import io.gpuvirt.benchmarks.Processes;
import io.gpuvirt.benchmarks.Scratch;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Issue 18's "8 workers in 2 processes" row, which JMH cannot express: allocate + release cycles
 * per second on one state directory by {@code processes} child JVMs of {@code threads} threads
 * each ({@link LedgerWorkerMain}, started with the module's class path), all cycles of all
 * workers finished in one window of wall-clock time, together. The baseline is the same with one
 * process of one thread, on a fresh state directory, just before. Every worker checks the ledger
 * after each grant and release; at the end the ledger must be empty.
 *
 * @param processes the worker JVMs
 * @param threads threads per JVM
 * @param cyclesPerSecond allocate + release cycles per second, all workers together
 * @param refused refused allocations (the host has room for every worker: expected 0)
 * @param doubles grants that shared a group with another owner's lease, or were not in the ledger
 *     read back, plus releases that found no lease, plus leases left in the ledger at the end
 */
public record WorkerRun(int processes, int threads, double cyclesPerSecond, long refused,
    long doubles) {

  /**
   * Runs {@code processes} x {@code threads} workers: start-up and warm-up for
   * {@code warmupMillis}, then a measured window of {@code windowMillis}.
   *
   * @throws GpuvirtException when a worker fails or starts after the window opened
   */
  public static WorkerRun measure(int processes, int threads, long warmupMillis,
      long windowMillis) {
    try (Scratch scratch = Scratch.create("workers"); Scratch tree = Scratch.forTree("workers")) {
      Path root = tree.dir().resolve("host");
      SimulatedHost.create(Hosts.profile(Hosts.boards(LedgerCycleBenchmark.BOARDS)), root).close();
      Path state = scratch.dir().resolve("state");
      long start = System.currentTimeMillis() + warmupMillis;
      long end = start + windowMillis;
      List<Process> children = new ArrayList<>();
      List<List<String>> argvs = new ArrayList<>();
      for (int p = 0; p < processes; p++) {
        List<String> argv = Processes.childJvm(LedgerWorkerMain.class, List.of(state.toString(),
            root.toString(), Integer.toString(p), Integer.toString(threads),
            Long.toString(start), Long.toString(end)));
        argvs.add(argv);
        children.add(Processes.start(argv, ProcessBuilder.Redirect.to(
            scratch.dir().resolve("worker-" + p + ".log").toFile())));
      }
      long cycles = 0;
      long refused = 0;
      long doubles = 0;
      for (int p = 0; p < processes; p++) {
        int worker = p;
        Path log = scratch.dir().resolve("worker-" + p + ".log");
        try {
          Processes.waitFor(children.get(p), argvs.get(p), 120 + windowMillis / 1000);
        } catch (GpuvirtException e) {
          throw new GpuvirtException(e.getMessage() + "; its output: " + read(log), e);
        }
        String[] f = read(log).lines().filter(l -> l.startsWith("RESULT ")).findFirst()
            .orElseThrow(() -> new GpuvirtException("benchmark: ledger worker " + worker
                + " printed no RESULT line: " + read(log))).split(" ");
        if (f[5].equals("1")) {
          throw new GpuvirtException("benchmark: ledger worker " + p + " started after its"
              + " measuring window opened; the machine is too slow or loaded for a "
              + warmupMillis + " ms start-up");
        }
        cycles += Long.parseLong(f[1]);
        refused += Long.parseLong(f[2]);
        doubles += Long.parseLong(f[3]) + Long.parseLong(f[4]);
      }
      doubles += LeaseLedger.open(state).leases().size();
      return new WorkerRun(processes, threads, cycles * 1000.0 / windowMillis, refused, doubles);
    }
  }

  private static String read(Path log) {
    try {
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e + ")";
    }
  }
}
