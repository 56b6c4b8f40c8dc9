package io.gpuvirt.core.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Runs real programs from coreutils (/bin/sh only as the program under test, never as a wrapper). */
final class ExecCommandRunnerTest {
  private final CommandRunner runner = CommandRunner.system();

  @Test
  void run_successfulProgram_returnsExitZeroAndStdout() {
    CommandResult r = runner.run(Command.of("echo", "hello"));
    assertEquals(List.of(0, "hello\n", true), List.of(r.exitCode(), r.stdout(), r.succeeded()));
  }

  @Test
  void run_failingProgram_returnsItsExitCodeWithoutThrowing() {
    CommandResult r = runner.run(Command.of("sh", "-c", "exit 239"));
    assertEquals(List.of(239, false), List.of(r.exitCode(), r.succeeded()));
  }

  @Test
  void run_programWritingToStderr_keepsStdoutAndStderrApart() {
    CommandResult r = runner.run(Command.of("sh", "-c", "echo out; echo err >&2"));
    assertEquals(List.of("out\n", "err\n"), List.of(r.stdout(), r.stderr()));
  }

  @Test
  void run_argumentsWithSpacesQuotesAndShellCharacters_arePassedVerbatim() {
    List<String> args = List.of("a b", "\"quoted\"", "'single'", "x;rm -rf /", "$HOME", "${HOME}",
        "`id`", "*", "", "back\\slash", "new\nline", "|&>");
    CommandResult r = runner.run(Command.of(concat("printf", "[%s]\\n", args)));
    StringBuilder expected = new StringBuilder();
    args.forEach(a -> expected.append('[').append(a).append("]\n"));
    assertEquals(expected.toString(), r.stdout());
  }

  @Test
  void run_stdin_isFedToTheProgram() {
    assertEquals("piped input", runner.run(Command.of("cat").withStdin("piped input")).stdout());
  }

  @Test
  void run_environment_isAddedToTheInheritedOne() {
    CommandResult r = runner.run(Command.of("sh", "-c", "echo \"$GPUVIRT_TEST_VAR:${PATH:+path}\"")
        .withEnvironment(Map.of("GPUVIRT_TEST_VAR", "set")));
    assertEquals("set:path\n", r.stdout());
  }

  @Test
  void run_programPastItsTimeout_raisesCommandException() {
    Command sleep = Command.of("sleep", "30").withTimeout(Duration.ofMillis(300));
    long start = System.nanoTime();
    CommandException e = assertThrows(CommandException.class, () -> runner.run(sleep));
    assertTrue(Duration.ofNanos(System.nanoTime() - start).toSeconds() < 20
        && e.getMessage().contains("ran past its timeout"), e.getMessage());
  }

  @Test
  void run_timeout_namesTheArgv() {
    Command sleep = Command.of("sleep", "30").withTimeout(Duration.ofMillis(200));
    assertEquals(List.of("sleep", "30"),
        assertThrows(CommandException.class, () -> runner.run(sleep)).argv());
  }

  @Test
  void run_missingProgram_raisesCommandExceptionNamingIt() {
    CommandException e = assertThrows(CommandException.class,
        () -> runner.run(Command.of("gpuvirt-no-such-program-x", "--version")));
    assertTrue(e.getMessage().startsWith("could not start gpuvirt-no-such-program-x"),
        e.getMessage());
  }

  @Test
  void run_programNameWithSpaces_isNotSplitIntoArguments() {
    CommandException e = assertThrows(CommandException.class,
        () -> runner.run(Command.of("echo hello")));
    assertEquals(List.of("echo hello"), e.argv());
  }

  @Test
  void result_elapsed_isMeasured() {
    CommandResult r = runner.run(Command.of("true"));
    assertFalse(r.elapsed().isNegative() || r.timedOut());
  }

  private static List<String> concat(String program, String first, List<String> rest) {
    List<String> argv = new java.util.ArrayList<>(List.of(program, first));
    argv.addAll(rest);
    return argv;
  }

  // ---- hung programs: a real executable fixture, run by path (no shell from the product) ------

  @org.junit.jupiter.api.io.TempDir java.nio.file.Path fixtures;

  /** Writes an executable script to the temp dir and returns its path. */
  private String script(String name, String body) throws java.io.IOException {
    java.nio.file.Path p = fixtures.resolve(name);
    java.nio.file.Files.writeString(p, "#!/bin/sh\n" + body);
    java.nio.file.Files.setPosixFilePermissions(p,
        java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    return p.toString();
  }

  private CommandException timesOut(Command c) {
    return org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(20),
        () -> assertThrows(CommandException.class, () -> runner.run(c)));
  }

  @Test
  void run_scriptWhoseChildSleepsForever_isKilledWithItsChildAtTheTimeout() throws Exception {
    String hang = script("hang", "echo started\nsleep 100000\n");
    CommandException e = timesOut(Command.of(hang, "--version").withTimeout(Duration.ofMillis(500)));
    assertTrue(e.timedOut() && e.getMessage().contains(hang)
        && e.getMessage().contains("500 ms") && e.getMessage().contains("--version"),
        e.getMessage());
  }

  @Test
  void run_programIgnoringSigterm_isStillKilled() throws Exception {
    String stubborn = script("stubborn", "trap '' TERM\nwhile :; do sleep 1; done\n");
    assertTrue(timesOut(Command.of(stubborn).withTimeout(Duration.ofMillis(300))).timedOut());
  }

  @Test
  void run_hungScript_leavesNoChildRunning() throws Exception {
    String marker = "100000." + Math.abs(System.nanoTime() % 1_000_000_000L); // unique sleep time
    String hang = script("hang2", "sleep " + marker + "\n");
    timesOut(Command.of(hang).withTimeout(Duration.ofMillis(300)));
    Thread.sleep(200);
    List<ProcessHandle> left = running(marker);
    left.forEach(ProcessHandle::destroyForcibly);
    assertEquals(List.of(), left, "a process of the hung script is still running");
  }

  private static List<ProcessHandle> running(String marker) {
    return ProcessHandle.allProcesses().filter(p -> p.isAlive() && p.info().commandLine()
        .map(c -> c.contains(marker)).orElse(false)).toList();
  }

  @Test
  void run_scriptThatExitsLeavingABackgroundChildHoldingItsOutput_returns() throws Exception {
    String marker = "100001." + Math.abs(System.nanoTime() % 1_000_000_000L);
    String daemon = script("daemon", "sleep " + marker + " &\necho done\n");
    try {
      CommandResult r = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
          Duration.ofSeconds(20), () -> runner.run(Command.of(daemon).withTimeout(
              Duration.ofSeconds(10))));
      assertEquals(List.of(0, "done\n"), List.of(r.exitCode(), r.stdout()), r.toString());
    } finally {
      running(marker).forEach(ProcessHandle::destroyForcibly);
    }
  }
}
