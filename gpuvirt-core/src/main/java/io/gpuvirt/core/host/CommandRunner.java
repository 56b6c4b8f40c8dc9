package io.gpuvirt.core.host;

/**
 * The seam through which gpuvirt runs external programs ({@code fmpm}, {@code nvidia-smi},
 * {@code qemu-system-x86_64}, {@code lspci}). Always an argv list, never a shell.
 *
 * <p>A non-zero exit is not an exception: it is returned in the {@link CommandResult}, because the
 * exit code often carries meaning (fmpm's 239 is PARTITION_ID_IN_USE). A program that cannot be
 * started, or that runs past its timeout, raises {@link CommandException}.
 */
@FunctionalInterface
public interface CommandRunner {

  /** Runs programs on this machine through Apache Commons Exec. */
  static CommandRunner system() {
    return new ExecCommandRunner();
  }

  /** Runs the command to completion and returns what it did. */
  CommandResult run(Command command);
}
