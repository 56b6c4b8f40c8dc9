package io.gpuvirt.core.host;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link CommandRunner} on Apache Commons Exec. Arguments are passed as given, never quoted. */
final class ExecCommandRunner implements CommandRunner {
  private static final Logger LOG = LoggerFactory.getLogger(ExecCommandRunner.class);

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
    ExecuteWatchdog watchdog = ExecuteWatchdog.builder().setTimeout(command.timeout()).get();
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
      exit = e.getExitValue();
    } catch (IOException e) {
      throw new CommandException(command.argv(), "could not start " + command.program() + ": "
          + e.getMessage() + "; check that it is installed and on PATH, or pass its full path",
          e);
    }
    Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
    boolean timedOut = watchdog.killedProcess();
    LOG.debug("ran {} -> exit {} in {} ms", command.argv(), exit, elapsed.toMillis());
    CommandResult result = new CommandResult(command.argv(), exit,
        out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8), elapsed,
        timedOut);
    if (timedOut) {
      throw new CommandException(command.argv(), command.program() + " ran past its timeout of "
          + command.timeout().toSeconds() + " s and was killed; stderr: " + result.stderr().strip(),
          null, true);
    }
    return result;
  }
}
