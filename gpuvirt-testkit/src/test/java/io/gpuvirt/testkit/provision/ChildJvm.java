package io.gpuvirt.testkit.provision;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A {@link ProvisionWorker} in a child JVM (this JVM's java and class path), output in a log. */
final class ChildJvm {
  private static final long TIMEOUT_SECONDS = 60;

  private final Process process;
  private final Path log;

  private ChildJvm(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  static ChildJvm start(Path log, String... args) {
    String java = ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> command = new ArrayList<>(List.of(java, "-Xshare:auto",
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-cp", System.getProperty("java.class.path"), ProvisionWorker.class.getName()));
    command.addAll(List.of(args));
    try {
      return new ChildJvm(new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(log.toFile()).start(), log);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits until the child prints a line starting with {@code prefix}; fails if it exits first. */
  String awaitLine(String prefix) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
    while (System.nanoTime() < deadline) {
      for (String line : lines()) {
        if (line.startsWith(prefix)) {
          return line;
        }
      }
      if (!process.isAlive()) {
        throw new AssertionError("child exited with " + process.exitValue() + " before printing '"
            + prefix + "': " + output());
      }
      Thread.sleep(5);
    }
    process.destroyForcibly();
    throw new AssertionError("child printed no '" + prefix + "' in " + TIMEOUT_SECONDS + " s: "
        + output());
  }

  /** Sends one line to the child's standard input (the {@code serve} command reads them). */
  void send(String line) {
    try {
      process.getOutputStream().write((line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      process.getOutputStream().flush();
    } catch (IOException e) {
      throw new AssertionError("cannot send '" + line + "' to the child: " + e + "; its output: "
          + output(), e);
    }
  }

  /** SIGKILL, and wait for it to be gone. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      throw new AssertionError("child survived SIGKILL for " + TIMEOUT_SECONDS + " s");
    }
  }

  /** Waits for a normal exit and returns the status. */
  int waitFor() throws InterruptedException {
    if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("child still running after " + TIMEOUT_SECONDS + " s: " + output());
    }
    return process.exitValue();
  }

  List<String> lines() {
    try {
      return Files.exists(log) ? Files.readAllLines(log) : List.of();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String output() {
    return String.join("\n", lines());
  }
}
