package io.gpuvirt.benchmarks;

import io.gpuvirt.core.GpuvirtException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs the processes the benchmarks measure (lspci, the CLI, {@code java -version}) and starts the
 * child JVMs of the rows JMH cannot express. Argv lists only, never a shell. The benchmarks start
 * processes with {@link ProcessBuilder} and discard their output, rather than through core's
 * {@code CommandRunner}, so that what is timed is the process, not the capture of its output.
 */
public final class Processes {
  private Processes() {}

  /**
   * Runs {@code argv} to its end with its output discarded.
   *
   * @throws GpuvirtException when it cannot start, runs longer than {@code timeoutSeconds} (it is
   *     killed) or exits with a status other than 0
   */
  public static void run(List<String> argv, long timeoutSeconds) {
    Process p = start(argv, ProcessBuilder.Redirect.DISCARD);
    waitFor(p, argv, timeoutSeconds);
  }

  /** Starts {@code argv}, its output (stdout and stderr together) going to {@code output}. */
  public static Process start(List<String> argv, ProcessBuilder.Redirect output) {
    try {
      return new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(output).start();
    } catch (IOException e) {
      throw new GpuvirtException("benchmark: cannot start " + String.join(" ", argv) + " (" + e
          + "); check that the program exists and is executable", e);
    }
  }

  /** Waits for {@code p} (started from {@code argv}) and checks that it exited with status 0. */
  public static void waitFor(Process p, List<String> argv, long timeoutSeconds) {
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new GpuvirtException("benchmark: " + String.join(" ", argv) + " ran longer than "
            + timeoutSeconds + " s and was killed; is the machine overloaded?");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new GpuvirtException("benchmark: interrupted waiting for " + String.join(" ", argv), e);
    }
    if (p.exitValue() != 0) {
      throw new GpuvirtException("benchmark: " + String.join(" ", argv) + " exited with status "
          + p.exitValue() + "; run it by hand to see why");
    }
  }

  /** The {@code java} of this JVM. */
  public static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /**
   * The argv of a child JVM running {@code mainClass} with this JVM's class path (the module's
   * jar, or the test class path), the benchmark's system properties and {@code args}.
   */
  public static List<String> childJvm(Class<?> mainClass, List<String> args) {
    List<String> argv = new ArrayList<>(List.of(java(), "-Xmx512m",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp",
        System.getProperty("java.class.path"), mainClass.getName()));
    argv.addAll(args);
    return argv;
  }

  /** The path of {@code tool} on the PATH, or in /usr/sbin or /sbin (where lspci often lives). */
  public static Optional<Path> tool(String tool) {
    List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "")
        .split(File.pathSeparator)));
    dirs.addAll(List.of("/usr/sbin", "/sbin"));
    for (String dir : dirs) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return Optional.of(Path.of(dir, tool));
      }
    }
    return Optional.empty();
  }
}
