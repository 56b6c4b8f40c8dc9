package io.gpuvirt.core.host;

import java.time.Duration;
import java.util.List;

/**
 * What a program did: its exit code, its output, how long it ran and whether it was killed for
 * running past its timeout.
 */
public record CommandResult(List<String> argv, int exitCode, String stdout, String stderr,
    Duration elapsed, boolean timedOut) {

  public CommandResult {
    argv = List.copyOf(argv);
  }

  /** True when the program exited 0 within its timeout. */
  public boolean succeeded() {
    return exitCode == 0 && !timedOut;
  }
}
