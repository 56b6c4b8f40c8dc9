package io.gpuvirt.benchmarks;

import io.gpuvirt.benchmarks.Row.Verdict;
import io.gpuvirt.benchmarks.cli.CliStartupBenchmark;
import io.gpuvirt.benchmarks.ledger.LedgerCycleBenchmark;
import io.gpuvirt.benchmarks.ledger.WorkerRun;
import io.gpuvirt.benchmarks.provision.ProvisionCycle;
import io.gpuvirt.benchmarks.scan.ScanBenchmark;
import io.gpuvirt.benchmarks.scan.Syscalls;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.Sysfs;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;
import org.openjdk.jmh.util.Statistics;

/**
 * Issue 18's performance table, every row measured in one run beside its baseline and printed as
 * a ratio: the JMH benchmarks ({@link ScanBenchmark}, {@link LedgerCycleBenchmark},
 * {@link CliStartupBenchmark}, run through JMH's {@link Runner}, one fork each) and the rows JMH
 * cannot express ({@link Syscalls}, {@link ProvisionCycle}, {@link WorkerRun}).
 *
 * <pre>
 * mvn -pl gpuvirt-benchmarks -am package -DskipTests
 * java -jar gpuvirt-benchmarks/target/benchmarks.jar [--quick] [--boards N]
 * </pre>
 *
 * <p>{@code --quick} is a smoke run (in this JVM, one short iteration each, a 2-board host, files
 * in {@link Settings#treeDir()} unless {@value Settings#DIR} is set: a few seconds a row, figures
 * not to be quoted); {@code --boards N} sets the large host (default 71
 * boards, 4,118 functions). System properties: see {@link Settings}. A row whose tool (lspci,
 * strace) or jar is missing is printed as skipped, naming it. The exit status is 0 whether goals
 * are met or not; it is 2 for a bad argument.
 */
public final class PerformanceTable {
  /** The large host's boards by default: 71 boards are 4,118 functions. */
  public static final int DEFAULT_BOARDS = 71;
  /** The large host's boards in a quick run. */
  public static final int QUICK_BOARDS = 2;

  /** The figures, in the issue's order. */
  static final String SCAN_B200 = "warm in-process scan of the simulated HGX B200 vs one whole"
      + " `lspci -tv` process on the same tree";
  static final String SCAN_LARGE = "the same at %d functions (%d B200 boards, one PCI domain"
      + " each)";
  static final String SYSCALLS = "syscalls per device in a scan (HGX B200)";
  static final String PROVISION = "provision + teardown of an 8-GPU VM, warm, gpuvirt's own time"
      + " (simulated kernel and Fabric Manager excluded)";
  static final String LEDGER = "durable allocate + release";
  static final String WORKERS = "8 workers in 2 processes";
  static final String CLI_JAR = "`java -jar gpuvirt.jar topology --root R`, whole process";
  static final String CLI_LAUNCHER = "`examples/target/gpuvirt topology --root R` (launcher),"
      + " whole process";

  private PerformanceTable() {}

  /**
   * How a run measures.
   *
   * @param quick a smoke run: in this JVM, one short iteration each
   * @param boards the large host's B200 boards
   */
  public record Run(boolean quick, int boards) {
    /** Checks the board count. */
    public Run {
      if (boards < 1 || boards > 512) {
        throw new InvalidValueException("--boards must be 1 to 512, was " + boards);
      }
    }

    /** The full run: {@value PerformanceTable#DEFAULT_BOARDS} boards. */
    public static Run full() {
      return new Run(false, DEFAULT_BOARDS);
    }

    /** The smoke run: {@value PerformanceTable#QUICK_BOARDS} boards. */
    public static Run quickRun() {
      return new Run(true, QUICK_BOARDS);
    }
  }

  /** {@code [--quick] [--boards N]}: measures and prints the table. */
  public static void main(String[] args) {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    Run run;
    try {
      run = parse(List.of(args));
    } catch (InvalidValueException e) {
      System.err.println("benchmarks: " + e.getMessage());
      System.err.println("usage: java -jar benchmarks.jar [--quick] [--boards N]");
      System.exit(2);
      return;
    }
    PrintStream out = System.out;
    String before = load();
    Instant started = Instant.now();
    List<Row> rows = measure(run, out);
    out.println();
    out.println("gpuvirt performance table (issue 18), " + (run.quick()
        ? "QUICK smoke run: figures not to be quoted" : "full run") + "; started "
        + started.truncatedTo(ChronoUnit.SECONDS) + ", took "
        + (Instant.now().getEpochSecond() - started.getEpochSecond()) + " s");
    out.println("machine: " + Runtime.getRuntime().availableProcessors() + " cores, Java "
        + System.getProperty("java.version") + "; load average (1, 5, 15 min) before " + before
        + ", after " + load() + "; files in " + Settings.dir());
    out.println();
    out.print(format(rows));
  }

  static Run parse(List<String> args) {
    boolean quick = false;
    Optional<Integer> boards = Optional.empty();
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals("--quick")) {
        quick = true;
      } else if (a.equals("--boards") && i + 1 < args.size()) {
        try {
          boards = Optional.of(Integer.parseInt(args.get(++i)));
        } catch (NumberFormatException e) {
          throw new InvalidValueException("--boards takes a number, was '" + args.get(i) + "'");
        }
      } else {
        throw new InvalidValueException("unknown argument '" + a + "'");
      }
    }
    return new Run(quick, boards.orElse(quick ? QUICK_BOARDS : DEFAULT_BOARDS));
  }

  /** Measures every row; JMH's progress goes to {@code log} in a full run. */
  public static List<Row> measure(Run run, PrintStream log) {
    if (run.quick() && System.getProperty(Settings.DIR) == null) {
      // a smoke run's figures are not quoted: its files go to RAM where there is some
      System.setProperty(Settings.DIR, Settings.treeDir().toString());
    }
    Optional<Path> lspci = Processes.tool("lspci");
    Optional<Path> strace = Processes.tool("strace");
    Path jar = Settings.cliJar();
    Path launcher = Settings.launcher();
    boolean hasJar = Files.isRegularFile(jar);
    boolean hasLauncher = Files.isExecutable(launcher) && !Files.isDirectory(launcher);

    List<String> includes = new ArrayList<>();
    includes.add(method(ScanBenchmark.class, lspci.isPresent() ? "(scan|lspci)" : "scan"));
    includes.add(method(LedgerCycleBenchmark.class, "(ledgerCycle|bareCommits)"));
    if (hasJar || hasLauncher) {
      includes.add(method(CliStartupBenchmark.class, "(javaVersion"
          + (hasJar ? "|jar" : "") + (hasLauncher ? "|launcher" : "") + ")"));
    }
    long t0 = System.nanoTime();
    Map<String, Statistics> jmh = jmh(includes, run, log);
    progress(log, t0, "JMH benchmarks");

    List<Row> rows = new ArrayList<>();
    String noLspci = "lspci is not installed (Debian: pciutils); it is the baseline";
    String large = Hosts.boards(run.boards());
    int b200Functions = Hosts.profile(Hosts.B200).devices().size();
    int largeFunctions = Hosts.profile(large).devices().size();
    double b200 = median(jmh, "scan", Hosts.B200);
    double big = median(jmh, "scan", large);
    String largeFigure = String.format(SCAN_LARGE, largeFunctions, run.boards());
    if (lspci.isPresent()) {
      double b200Lspci = median(jmh, "lspci", Hosts.B200);
      double bigLspci = median(jmh, "lspci", large);
      rows.add(new Row(SCAN_B200, "≤ 0.5×", ms(b200) + " (median)",
          "lspci -tv: " + ms(b200Lspci),
          Row.ratio(b200 / b200Lspci), Verdict.of(b200 / b200Lspci <= 0.5)));
      double perFunction = big / largeFunctions;
      double perFunctionB200 = b200 / b200Functions;
      boolean linear = perFunction <= 1.5 * perFunctionB200;
      rows.add(new Row(largeFigure, "≤ 0.5×, linear", String.format("%s, %.0f µs per function"
          + " (B200: %.0f µs; linear: %s)", ms(big), perFunction * 1e3, perFunctionB200 * 1e3,
          linear ? "yes, ≤ 1.5× the B200's" : "no, > 1.5× the B200's"),
          "lspci -tv: " + ms(bigLspci), Row.ratio(big / bigLspci),
          Verdict.of(big / bigLspci <= 0.5 && linear)));
    } else {
      rows.add(Row.skipped(SCAN_B200, "≤ 0.5×", noLspci + "; scan alone " + ms(b200)));
      rows.add(Row.skipped(largeFigure, "≤ 0.5×, linear", noLspci + "; scan alone " + ms(big)));
    }

    if (strace.isEmpty() || lspci.isEmpty()) {
      rows.add(Row.skipped(SYSCALLS, "≤ lspci's", strace.isEmpty()
          ? "strace is not installed (Debian: strace); it counts the calls" : noLspci));
    } else {
      t0 = System.nanoTime();
      Syscalls s = Syscalls.count(Hosts.B200, run.quick() ? 2 : 10,
          run.quick() ? 1 : Syscalls.WARM_UP, strace.get(), lspci.get());
      rows.add(new Row(SYSCALLS, "≤ lspci's", String.format("%.1f per function (%.1f on files)",
          s.scan(), s.scanFileCalls()), String.format("lspci -tv, whole process: %.1f (%.1f on"
          + " files)", s.lspci(), s.lspciFileCalls()), Row.ratio(s.scan() / s.lspci()),
          Verdict.of(s.scan() <= s.lspci())));
      progress(log, t0, "system calls");
    }

    t0 = System.nanoTime();
    ProvisionCycle p = ProvisionCycle.measure(8, run.quick() ? 3 : 40);
    progress(log, t0, "provisioning");
    rows.add(new Row(PROVISION, "≤ 50 ms", String.format("%.1f ms (median; %.1f scans, %.0f sysfs"
        + " writes per cycle)", p.ownMillis(), p.scansPerCycle(), p.writesPerCycle()),
        String.format("whole cycle, simulation included: %.1f ms", p.cycleMillis()),
        Row.ratio(p.ownMillis() / p.cycleMillis()), Verdict.of(p.ownMillis() <= 50)));

    double ledger = 1e3 / mean(jmh, "ledgerCycle");
    double bare = 1e3 / mean(jmh, "bareCommits");
    rows.add(new Row(LEDGER, "≥ 0.8× the bare loop; ≥ 500 cycles/s",
        String.format("%.0f cycles/s", ledger),
        String.format("bare loop, 2 appends + fdatasync per cycle: %.0f cycles/s", bare),
        Row.ratio(ledger / bare), Verdict.of(ledger / bare >= 0.8 && ledger >= 500)));

    // Two JVMs' JIT compilers share the 2 cores for their first seconds: with a 5 s warm-up,
    // C2 alone took a quarter of the machine's time inside the window (perf), so the row measured
    // compilation, not the ledger. After 10 s both JVMs have settled (a few compilations a second).
    long warmup = run.quick() ? 3000 : 10000;
    long window = run.quick() ? 1000 : 8000;
    t0 = System.nanoTime();
    WorkerRun single = WorkerRun.measure(1, 1, warmup, window);
    WorkerRun eight = WorkerRun.measure(2, 4, warmup, window);
    progress(log, t0, "ledger workers");
    long doubles = single.doubles() + eight.doubles();
    rows.add(new Row(WORKERS, "≥ the single-thread rate, 0 double allocations",
        String.format("%.0f cycles/s, %d double allocations, %d refused", eight.cyclesPerSecond(),
            eight.doubles(), eight.refused()), String.format("1 thread, 1 process: %.0f cycles/s",
            single.cyclesPerSecond()), Row.ratio(eight.cyclesPerSecond()
            / single.cyclesPerSecond()), Verdict.of(eight.cyclesPerSecond()
            >= single.cyclesPerSecond() && doubles == 0)));

    String missingJar = "no CLI jar at " + jar + "; build it (mvn -pl examples -am package"
        + " -DskipTests) or set -D" + Settings.CLI_JAR;
    if (hasJar) {
      // the issue's start-up goal is the launcher's (an AppCDS archive and JVM options, which a
      // plain java -jar cannot have); the plain jar must still work, and is shown beside it
      double jarMillis = median(jmh, "jar", null);
      double javaVersion = median(jmh, "javaVersion", null);
      rows.add(new Row(CLI_JAR, "none: for comparison with the launcher's row",
          ms(jarMillis) + " (median)", "java -version: " + ms(javaVersion),
          Row.ratio(jarMillis / javaVersion), Verdict.COMPARISON));
    } else {
      rows.add(Row.skipped(CLI_JAR, "none: for comparison with the launcher's row", missingJar));
    }
    if (hasLauncher) {
      rows.add(cliRow(CLI_LAUNCHER, median(jmh, "launcher", null),
          median(jmh, "javaVersion", null)));
    } else {
      rows.add(Row.skipped(CLI_LAUNCHER, "≤ 6× `java -version`", "no launcher at " + launcher
          + "; the examples build writes it beside the jar, or set -D" + Settings.LAUNCHER));
    }
    return List.copyOf(rows);
  }

  private static void progress(PrintStream log, long startNanos, String what) {
    log.printf("benchmarks: %s measured in %.1f s%n", what, (System.nanoTime() - startNanos) / 1e9);
  }

  private static Row cliRow(String figure, double millis, double javaVersion) {
    return new Row(figure, "≤ 6× `java -version`", ms(millis) + " (median)",
        "java -version: " + ms(javaVersion), Row.ratio(millis / javaVersion),
        Verdict.of(millis / javaVersion <= 6));
  }

  /** The table as Markdown, one row per figure, columns padded. */
  public static String format(List<Row> rows) {
    List<String[]> cells = new ArrayList<>();
    cells.add(new String[] {"figure", "goal", "measured", "baseline (same run)", "ratio",
        "verdict"});
    rows.forEach(r -> cells.add(new String[] {r.figure(), r.goal(), r.measured(), r.baseline(),
        r.ratio(), r.verdict().text()}));
    int[] width = new int[6];
    cells.forEach(c -> {
      for (int i = 0; i < 6; i++) {
        width[i] = Math.max(width[i], c[i].length());
      }
    });
    StringBuilder sb = new StringBuilder();
    for (int k = 0; k < cells.size(); k++) {
      line(sb, cells.get(k), width);
      if (k == 0) {
        String[] rule = new String[6];
        for (int i = 0; i < 6; i++) {
          rule[i] = "-".repeat(width[i]);
        }
        line(sb, rule, width);
      }
    }
    return sb.toString();
  }

  private static void line(StringBuilder sb, String[] cells, int[] width) {
    sb.append('|');
    for (int i = 0; i < cells.length; i++) {
      sb.append(' ').append(cells[i]).append(" ".repeat(width[i] - cells[i].length()))
          .append(" |");
    }
    sb.append('\n');
  }

  private static String method(Class<?> benchmark, String methods) {
    return "^" + Pattern.quote(benchmark.getName() + ".") + methods + "$";
  }

  /** Runs the JMH benchmarks matching {@code includes}; statistics by method and host. */
  private static Map<String, Statistics> jmh(List<String> includes, Run run, PrintStream log) {
    ChainedOptionsBuilder options = new OptionsBuilder()
        .jvmArgsAppend(Settings.jvmArgs().toArray(String[]::new))
        .param("host", Hosts.B200, Hosts.boards(run.boards()))
        .shouldFailOnError(true)
        .verbosity(run.quick() ? VerboseMode.SILENT : VerboseMode.NORMAL);
    includes.forEach(options::include);
    if (run.quick()) {
      options.forks(0).warmupIterations(0).measurementIterations(1)
          .measurementTime(TimeValue.milliseconds(100));
    }
    Collection<RunResult> results;
    PrintStream stdout = System.out;
    try {
      System.setOut(log);
      results = new Runner(options.build()).run();
    } catch (RunnerException e) {
      throw new GpuvirtException("benchmark: JMH failed (" + e.getMessage() + "); its output"
          + " above names the benchmark", e);
    } finally {
      System.setOut(stdout);
    }
    Map<String, Statistics> byName = new HashMap<>();
    for (RunResult r : results) {
      String name = r.getParams().getBenchmark();
      String host = r.getParams().getParam("host");
      byName.put(key(name.substring(name.lastIndexOf('.') + 1), host),
          r.getPrimaryResult().getStatistics());
    }
    return byName;
  }

  private static String key(String method, String host) {
    return host == null ? method : method + "@" + host;
  }

  private static Statistics stats(Map<String, Statistics> jmh, String method, String host) {
    Statistics s = jmh.get(key(method, host));
    if (s == null || s.getN() == 0) {
      throw new GpuvirtException("benchmark: JMH gave no result for " + key(method, host)
          + "; its output above says why");
    }
    return s;
  }

  /** The median in milliseconds. */
  private static double median(Map<String, Statistics> jmh, String method, String host) {
    return stats(jmh, method, host).getPercentile(50);
  }

  /** The mean in milliseconds. */
  private static double mean(Map<String, Statistics> jmh, String method) {
    return stats(jmh, method, null).getMean();
  }

  private static String ms(double millis) {
    return millis < 10 ? String.format("%.2f ms", millis) : String.format("%.1f ms", millis);
  }

  /** The load averages, as {@code uptime} prints them. */
  private static String load() {
    try {
      String[] f = Sysfs.host().read("/proc/loadavg").trim().split("\\s+");
      return f[0] + ", " + f[1] + ", " + f[2];
    } catch (GpuvirtException e) {
      return "unknown";
    }
  }
}
