package io.gpuvirt.examples.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Scratch directories for the CLI tests' simulated hosts: on the RAM disk when there is one. */
final class TempRoots {
  private TempRoots() {}

  /** A new empty directory under /dev/shm (or java.io.tmpdir) named {@code prefix...}. */
  static Path create(String prefix) throws IOException {
    Path base = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm")
        : Path.of(System.getProperty("java.io.tmpdir"));
    return Files.createTempDirectory(base, prefix);
  }

  /** Deletes {@code dir} and everything under it. */
  static void delete(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
