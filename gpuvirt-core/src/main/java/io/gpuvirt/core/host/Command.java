package io.gpuvirt.core.host;

import io.gpuvirt.core.InvalidValueException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * An external program to run: an argv list (never a shell line), a timeout, optional standard input
 * and extra environment variables.
 *
 * <pre>{@code
 * Command c = Command.of("fmpm", "-l").withTimeout(Duration.ofSeconds(30));
 * }</pre>
 *
 * @param argv program and arguments; the first element is the program
 * @param timeout how long the program may run before it and the processes it started are killed
 *     (default {@link #DEFAULT_TIMEOUT})
 * @param stdin text written to the program's standard input, if any
 * @param environment variables added to the inherited environment
 */
public record Command(List<String> argv, Duration timeout, Optional<String> stdin,
    Map<String, String> environment) {

  /**
   * The timeout used when none is given: 60 seconds. Every command has a timeout; callers that know
   * their program set their own with {@link #withTimeout} (QEMU probes 30 s, fmpm 30 s,
   * {@code nvidia-smi -q} 120 s). When it expires the program and the processes it started are
   * killed and {@link CommandRunner#run} raises {@link CommandException} naming the program, its
   * argv and the timeout.
   */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

  public Command {
    argv = List.copyOf(argv);
    if (argv.isEmpty()) {
      throw new InvalidValueException("command argv is empty; name the program to run");
    }
    for (String arg : argv) {
      if (arg.indexOf('\0') >= 0) {
        throw new InvalidValueException("command argument contains NUL: " + argv);
      }
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new InvalidValueException("command timeout must be positive, was " + timeout);
    }
    environment = Map.copyOf(new TreeMap<>(environment));
    stdin = stdin == null ? Optional.empty() : stdin;
  }

  /** A command with the default timeout, no input and no extra environment. */
  public static Command of(String program, String... args) {
    List<String> argv = new ArrayList<>();
    argv.add(program);
    argv.addAll(List.of(args));
    return new Command(argv, DEFAULT_TIMEOUT, Optional.empty(), Map.of());
  }

  /** A command from an argv list with the default timeout. */
  public static Command of(List<String> argv) {
    return new Command(argv, DEFAULT_TIMEOUT, Optional.empty(), Map.of());
  }

  public Command withTimeout(Duration newTimeout) {
    return new Command(argv, newTimeout, stdin, environment);
  }

  public Command withStdin(String input) {
    return new Command(argv, timeout, Optional.of(input), environment);
  }

  public Command withEnvironment(Map<String, String> extra) {
    return new Command(argv, timeout, stdin, extra);
  }

  /** A timeout for messages: {@code 30 s}, or {@code 250 ms} below a second. */
  static String describe(Duration timeout) {
    return timeout.toMillis() < 1000 || timeout.toMillis() % 1000 != 0
        ? timeout.toMillis() + " ms" : timeout.toSeconds() + " s";
  }

  /** The program, {@code argv.get(0)}. */
  public String program() {
    return argv.get(0);
  }
}
