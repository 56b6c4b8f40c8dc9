package io.gpuvirt.examples.cli;

import io.gpuvirt.core.GpuvirtException;
import picocli.CommandLine;

/** Shared CLI plumbing: exit codes and error printing. */
final class Cli {
  /** The operation succeeded. */
  static final int OK = 0;
  /** The operation was refused or the host is not ready. */
  static final int REFUSED = 1;
  /** Any other error. */
  static final int ERROR = 2;

  private Cli() {}

  static CommandLine commandLine(Object root) {
    CommandLine cl = new CommandLine(root);
    cl.setExitCodeExceptionMapper(e -> ERROR);
    cl.setExecutionExceptionHandler((e, cmd, parseResult) -> {
      if (e instanceof GpuvirtException || e instanceof IllegalArgumentException) {
        // Bad input, or a refusal with its reason: the message says it all, no stack trace.
        cmd.getErr().println("gpuvirt: " + e.getMessage());
      } else {
        cmd.getErr().println("gpuvirt: unexpected error: " + e);
        e.printStackTrace(cmd.getErr());
      }
      return ERROR;
    });
    cl.setParameterExceptionHandler((e, args) -> {
      e.getCommandLine().getErr().println("gpuvirt: " + e.getMessage());
      e.getCommandLine().usage(e.getCommandLine().getErr());
      return ERROR;
    });
    return cl;
  }
}
