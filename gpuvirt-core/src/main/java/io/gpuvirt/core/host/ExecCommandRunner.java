package io.gpuvirt.core.host;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.Executor;
import org.apache.commons.exec.PumpStreamHandler;
import org.apache.commons.exec.Watchdog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link CommandRunner} on Apache Commons Exec. Arguments are passed as given, never quoted.
 *
 * <p>Every command runs under its {@link Command#timeout()}. When it expires, the program and every
 * process it started (its descendants, snapshotted before it dies) are killed with SIGKILL, so a
 * script whose child sleeps forever, or a program that ignores SIGTERM, cannot hang the caller. The
 * output pumps are given {@link #PUMP_GRACE} after the program ends: a process that escaped the tree
 * (a daemon) and still holds the program's output open does not hang the caller either.
 */
final class ExecCommandRunner implements CommandRunner {
  private static final Logger LOG = LoggerFactory.getLogger(ExecCommandRunner.class);
  /** How long output may still be collected after the program ended or was killed. */
  static final Duration PUMP_GRACE = Duration.ofSeconds(2);

  @Override
  public CommandResult run(Command command) {
    CommandLine line = new CommandLine(command.program());
    for (String arg : command.argv().subList(1, command.argv().size())) {
      line.addArgument(arg, false);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PumpStreamHandler streams = command.stdin().isPresent()
        ? new PumpStreamHandler(out, err,
            new ByteArrayInputStream(command.stdin().get().getBytes(StandardCharsets.UTF_8)))
        : new PumpStreamHandler(out, err);
    streams.setStopTimeout(PUMP_GRACE);
    TreeKillingWatchdog watchdog = new TreeKillingWatchdog(command.timeout());
    DefaultExecutor executor = DefaultExecutor.builder().get();
    executor.setStreamHandler(streams);
    executor.setWatchdog(watchdog);
    executor.setExitValues(null);

    Map<String, String> environment = null;
    if (!command.environment().isEmpty()) {
      environment = new HashMap<>(System.getenv());
      environment.putAll(command.environment());
    }
    long start = System.nanoTime();
    int exit;
    try {
      exit = executor.execute(line, environment);
    } catch (ExecuteException e) {
      // When the output pumps outlive their grace (a daemon holds the program's output open),
      // Commons Exec reports the failure to stop them with no exit value; the program itself
      // has ended, so its own exit value is the answer.
      exit = e.getExitValue() != Executor.INVALID_EXITVALUE ? e.getExitValue()
          : watchdog.exitValue().orElse(e.getExitValue());
    } catch (IOException e) {
      if (watchdog.expired()) {
        throw timeout(command, "");
      }
      throw new CommandException(command.argv(), "could not start " + command.program() + ": "
          + e.getMessage() + "; check that it is installed and on PATH, or pass its full path",
          e);
    }
    Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
    boolean timedOut = watchdog.expired();
    LOG.debug("ran {} -> exit {} in {} ms", command.argv(), exit, elapsed.toMillis());
    CommandResult result = new CommandResult(command.argv(), exit,
        out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8), elapsed,
        timedOut);
    if (timedOut) {
      throw timeout(command, result.stderr().strip());
    }
    return result;
  }

  private static CommandException timeout(Command command, String stderr) {
    return new CommandException(command.argv(), command.program() + " (argv " + command.argv()
        + ") ran past its timeout of " + Command.describe(command.timeout())
        + " and was killed with the processes it started"
        + (stderr.isEmpty() ? "" : "; stderr: " + stderr)
        + "; check that the program answers, or give it a longer timeout", null, true);
  }

  /**
   * Kills the program and its descendants with SIGKILL when the timeout expires. The descendants
   * are listed before the program is killed: once it dies they are re-parented and no longer found.
   */
  private static final class TreeKillingWatchdog extends ExecuteWatchdog {
    private Process process;
    private volatile boolean expired;

    TreeKillingWatchdog(Duration timeout) {
      super(timeout.toMillis());
    }

    @Override
    public synchronized void start(Process started) {
      this.process = started;
      super.start(started);
    }

    @Override
    public synchronized void timeoutOccured(Watchdog w) {
      if (process == null || !process.isAlive()) {
        return;
      }
      expired = true;
      List<ProcessHandle> tree = process.descendants().toList();
      process.destroyForcibly();
      tree.forEach(ProcessHandle::destroyForcibly);
    }

    boolean expired() {
      return expired;
    }

    /** The program's exit value once it has ended. */
    synchronized OptionalInt exitValue() {
      if (process == null) {
        return OptionalInt.empty();
      }
      try {
        if (process.waitFor(PUMP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
          return OptionalInt.of(process.exitValue());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return OptionalInt.empty();
    }
  }
}
