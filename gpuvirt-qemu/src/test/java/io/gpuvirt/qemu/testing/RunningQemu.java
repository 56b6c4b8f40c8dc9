package io.gpuvirt.qemu.testing;

import io.gpuvirt.qemu.qmp.QmpClient;
import io.gpuvirt.qemu.qmp.QmpException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A QEMU process for tests, started with a QMP socket in a temporary directory and killed on
 * {@link #close()}. (Product code runs programs through {@code CommandRunner}; a VM that keeps
 * running while the test talks to it needs a process of its own.)
 */
public final class RunningQemu implements AutoCloseable {
  private final Process process;
  private final Path stderr;
  private final QmpClient qmp;

  private RunningQemu(Process process, Path stderr, QmpClient qmp) {
    this.process = process;
    this.stderr = stderr;
    this.qmp = qmp;
  }

  /** Starts {@code argv} with {@code -qmp unix:DIR/qmp.sock,server=on,wait=off} and connects. */
  public static RunningQemu start(List<String> argv, Path dir) {
    Path socket = dir.resolve("qmp.sock");
    Path err = dir.resolve("qemu.stderr");
    List<String> full = new ArrayList<>(argv);
    full.add("-qmp");
    full.add("unix:" + socket + ",server=on,wait=off");
    Process p;
    try {
      p = new ProcessBuilder(full).redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectError(err.toFile()).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + full, e);
    }
    try {
      QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(20));
      return new RunningQemu(p, err, qmp);
    } catch (QmpException e) {
      p.destroyForcibly();
      throw new AssertionError("QEMU did not come up: " + e.getMessage() + "\nstderr: "
          + read(err) + "\nargv: " + full, e);
    }
  }

  /** The connected QMP client. */
  public QmpClient qmp() {
    return qmp;
  }

  /** What QEMU wrote to stderr so far. */
  public String stderr() {
    return read(stderr);
  }

  /** Kills QEMU and waits for it; the QMP client is closed. */
  @Override
  public void close() {
    qmp.close();
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** Kills QEMU at once (as a crash would), leaving the client open. */
  public void kill() {
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String read(Path p) {
    try {
      return Files.exists(p) ? Files.readString(p, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }
}
