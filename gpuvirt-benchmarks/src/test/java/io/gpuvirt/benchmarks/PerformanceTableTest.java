package io.gpuvirt.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.benchmarks.Row.Verdict;
import io.gpuvirt.core.InvalidValueException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The performance table in quick mode (JMH in this JVM, one short iteration each, a 2-board
 * host), run once for the class: every row of issue 18 is there, measured beside its baseline as
 * a ratio or skipped naming what is missing. Its figures are not checked: this machine is shared.
 */
final class PerformanceTableTest {
  private static List<Row> rows;

  @BeforeAll
  static void runQuickTable() {
    rows = PerformanceTable.measure(PerformanceTable.Run.quickRun(),
        new PrintStream(OutputStream.nullOutputStream()));
  }

  private static Row row(String figure) {
    return rows.stream().filter(r -> r.figure().equals(figure)).findFirst()
        .orElseThrow(() -> new AssertionError("no row '" + figure + "' in " + rows));
  }

  private static void requireTool(String tool, String debianPackage) {
    if (Processes.tool(tool).isPresent()) {
      return;
    }
    String message = tool + " is not installed (Debian: " + debianPackage + ")";
    if ("1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS"))) {
      fail(message + " but GPUVIRT_REQUIRE_TOOLS=1 requires it");
    }
    Assumptions.abort(message + "; set GPUVIRT_REQUIRE_TOOLS=1 to make this a failure");
  }

  @Test
  void quickRun_hasEveryRowOfTheIssueInItsOrder() {
    assertEquals(List.of(PerformanceTable.SCAN_B200, String.format(PerformanceTable.SCAN_LARGE,
        2 * 58, 2), PerformanceTable.SYSCALLS, PerformanceTable.PROVISION,
        PerformanceTable.LEDGER, PerformanceTable.WORKERS, PerformanceTable.CLI_JAR,
        PerformanceTable.CLI_LAUNCHER), rows.stream().map(Row::figure).toList());
  }

  @Test
  void quickRun_givesEachRowARatioToItsBaselineOrSaysWhatIsMissing() {
    for (Row r : rows) {
      boolean ok = r.verdict() == Verdict.SKIPPED
          ? r.measured().startsWith("skipped: ") && r.ratio().equals("-")
          : r.ratio().matches("[0-9]+\\.[0-9]{2}x") && !r.baseline().isEmpty();
      assertTrue(ok, r.toString());
    }
  }

  @Test
  void quickRun_givesTheStartUpGoalToTheLauncher_andShowsThePlainJarForComparison() {
    Row jar = row(PerformanceTable.CLI_JAR);
    Row launcher = row(PerformanceTable.CLI_LAUNCHER);
    assertEquals("≤ 6× `java -version`", launcher.goal());
    assertTrue(jar.verdict() == Verdict.COMPARISON || jar.verdict() == Verdict.SKIPPED,
        jar.toString());
  }

  @Test
  void quickRun_measuresTheScanRowsAgainstLspci() {
    requireTool("lspci", "pciutils");
    assertEquals(List.of("lspci -tv: ", "lspci -tv: "), List.of(
        row(PerformanceTable.SCAN_B200).baseline().substring(0, Math.min(11,
            row(PerformanceTable.SCAN_B200).baseline().length())),
        rows.get(1).baseline().substring(0, Math.min(11, rows.get(1).baseline().length()))));
  }

  @Test
  void quickRun_countsSyscallsWithStrace() {
    requireTool("lspci", "pciutils");
    requireTool("strace", "strace");
    assertTrue(row(PerformanceTable.SYSCALLS).baseline().startsWith("lspci -tv, whole process"),
        row(PerformanceTable.SYSCALLS).toString());
  }

  @Test
  void quickRun_workersFindNoDoubleAllocation() {
    assertTrue(row(PerformanceTable.WORKERS).measured().contains(" 0 double allocations"),
        row(PerformanceTable.WORKERS).toString());
  }

  @Test
  void quickRun_measuresTheCliJar_whenItWasBuilt_elseNamesIt() {
    Row cli = row(PerformanceTable.CLI_JAR);
    if (Files.isRegularFile(Settings.cliJar())) {
      assertTrue(cli.baseline().startsWith("java -version: "), cli.toString());
    } else {
      assertTrue(cli.measured().contains(Settings.cliJar().toString()), cli.toString());
    }
  }

  @Test
  void format_printsOneMarkdownLinePerRowAfterTheHeader() {
    String table = PerformanceTable.format(rows);
    assertEquals(List.of(2 + rows.size(), true), List.of((int) table.lines().count(),
        table.lines().allMatch(l -> l.startsWith("| ") && l.endsWith(" |"))));
  }

  @Test
  void parse_ofAnUnknownArgument_isRefusedNamingIt() {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> PerformanceTable.parse(List.of("--quick", "--fast")));
    assertTrue(e.getMessage().contains("'--fast'"), e.getMessage());
  }
}
