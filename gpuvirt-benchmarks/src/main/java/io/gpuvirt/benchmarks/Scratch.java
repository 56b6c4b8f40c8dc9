package io.gpuvirt.benchmarks;

import io.gpuvirt.core.GpuvirtException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A new directory for one benchmark (a simulated host, a ledger, the bare fsync file), deleted
 * with everything in it by {@link #close()}.
 */
public final class Scratch implements AutoCloseable {
  private final Path dir;

  private Scratch(Path dir) {
    this.dir = dir;
  }

  /** A new directory in {@link Settings#dir()} named {@code gpuvirt-bench-<what>-...}. */
  public static Scratch create(String what) {
    return new Scratch(Settings.newDirectory(Settings.dir(), "gpuvirt-bench-" + what + "-"));
  }

  /** A new directory in {@link Settings#treeDir()}, for a host only scanned for its topology. */
  public static Scratch forTree(String what) {
    return new Scratch(Settings.newDirectory(Settings.treeDir(), "gpuvirt-bench-" + what + "-"));
  }

  /** The directory. */
  public Path dir() {
    return dir;
  }

  /** Deletes the directory and what is in it. */
  @Override
  public void close() {
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new GpuvirtException("benchmark: cannot delete " + dir + " (" + e + "); delete it by"
          + " hand", e);
    }
  }
}
