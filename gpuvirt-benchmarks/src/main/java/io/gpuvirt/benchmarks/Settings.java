package io.gpuvirt.benchmarks;

import io.gpuvirt.core.GpuvirtException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The system properties the benchmarks read, in the main JVM and in JMH's forked JVMs (the main
 * class passes them on to the forks as absolute paths).
 *
 * <ul>
 *   <li>{@value #DIR}: where simulated hosts, ledgers and the bare fsync file are written (default
 *       {@code java.io.tmpdir}); put it on the disk whose fsyncs are to be measured.
 *   <li>{@value #TREE_DIR}: where simulated hosts that are only scanned for their topology (the
 *       ledger rows' host) are written (default {@code /dev/shm} where it exists, else
 *       {@value #DIR}): writing thousands of small files is slow on a busy disk.
 *   <li>{@value #CLI_JAR}: the CLI's shaded jar (default {@code examples/target/gpuvirt.jar} under
 *       the working directory).
 *   <li>{@value #LAUNCHER}: the CLI's launcher script (default {@code gpuvirt} beside the jar).
 * </ul>
 */
public final class Settings {
  /** {@value}. */
  public static final String DIR = "gpuvirt.benchmarks.dir";
  /** {@value}. */
  public static final String TREE_DIR = "gpuvirt.benchmarks.treeDir";
  /** {@value}. */
  public static final String CLI_JAR = "gpuvirt.benchmarks.cliJar";
  /** {@value}. */
  public static final String LAUNCHER = "gpuvirt.benchmarks.launcher";

  private Settings() {}

  /** The directory benchmarks write to ({@value #DIR}). */
  public static Path dir() {
    return Path.of(System.getProperty(DIR, System.getProperty("java.io.tmpdir")))
        .toAbsolutePath().normalize();
  }

  /** A new directory under {@code parent} ({@link #dir()} or {@link #treeDir()}). */
  static Path newDirectory(Path parent, String prefix) {
    try {
      Files.createDirectories(parent);
      return Files.createTempDirectory(parent, prefix);
    } catch (IOException e) {
      throw new GpuvirtException("benchmark: cannot create a directory in " + parent + " (" + e
          + "); set -D" + DIR + " (or -D" + TREE_DIR + ") to a writable directory", e);
    }
  }

  /** The directory for hosts only scanned for their topology ({@value #TREE_DIR}). */
  public static Path treeDir() {
    Path shm = Path.of("/dev/shm");
    return Path.of(System.getProperty(TREE_DIR, Files.isDirectory(shm) && Files.isWritable(shm)
        ? shm.toString() : dir().toString())).toAbsolutePath().normalize();
  }

  /** The CLI jar ({@value #CLI_JAR}), which may not exist. */
  public static Path cliJar() {
    return Path.of(System.getProperty(CLI_JAR, "examples/target/gpuvirt.jar")).toAbsolutePath()
        .normalize();
  }

  /** The CLI launcher ({@value #LAUNCHER}), which may not exist. */
  public static Path launcher() {
    return Path.of(System.getProperty(LAUNCHER, cliJar().resolveSibling("gpuvirt").toString()))
        .toAbsolutePath().normalize();
  }

  /** {@code -Dname=value} for each setting, as this JVM resolves it, for a forked JVM. */
  public static List<String> jvmArgs() {
    return List.of("-D" + DIR + "=" + dir(), "-D" + TREE_DIR + "=" + treeDir(),
        "-D" + CLI_JAR + "=" + cliJar(),
        "-D" + LAUNCHER + "=" + launcher(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
  }
}
