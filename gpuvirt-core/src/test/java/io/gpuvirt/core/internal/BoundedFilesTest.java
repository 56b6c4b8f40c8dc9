package io.gpuvirt.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class BoundedFilesTest {
  @TempDir Path dir;

  private String refused(Path file, long max) {
    return assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(
        BoundedFiles.RefusedFileException.class, () -> BoundedFiles.read(file, max))).found();
  }

  @Test
  void read_regularFileWithinTheBound_isRead() throws Exception {
    Files.write(dir.resolve("f"), new byte[] {1, 2, 3});
    assertArrayEquals(new byte[] {1, 2, 3}, BoundedFiles.read(dir.resolve("f"), 3));
  }

  @Test
  void read_linkToARegularFile_isRead() throws Exception {
    Files.write(dir.resolve("f"), new byte[] {7});
    Files.createSymbolicLink(dir.resolve("l"), Path.of("f"));
    assertArrayEquals(new byte[] {7}, BoundedFiles.read(dir.resolve("l"), 10));
  }

  @Test
  void read_nothingThere_isNoSuchFile() {
    assertThrows(NoSuchFileException.class, () -> BoundedFiles.read(dir.resolve("none"), 10));
  }

  @Test
  void read_oneByteOverTheBound_isRefused() throws Exception {
    Files.write(dir.resolve("f"), new byte[11]);
    assertTrue(refused(dir.resolve("f"), 10).contains("longer than 10 bytes"));
  }

  @Test
  void read_danglingLink_isRefusedNotMissing() throws Exception {
    Files.createSymbolicLink(dir.resolve("l"), Path.of("gone"));
    assertTrue(refused(dir.resolve("l"), 10).contains("dangling symbolic link (to gone)"));
  }

  @Test
  void read_linkLoop_isRefused() throws Exception {
    Files.createSymbolicLink(dir.resolve("l"), Path.of("l"));
    assertTrue(refused(dir.resolve("l"), 10).contains("does not resolve"));
  }

  @Test
  void read_devZero_isRefusedAsACharacterDevice() throws Exception {
    Files.createSymbolicLink(dir.resolve("l"), Path.of("/dev/zero"));
    assertTrue(refused(dir.resolve("l"), BoundedFiles.STATE_FILE_MAX)
        .contains("a symbolic link to a character device"));
  }

  @Test
  void read_fifo_isRefusedWithoutBlocking() throws Exception {
    Path fifo = dir.resolve("p");
    Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
    Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo is not available");
    assertTrue(refused(fifo, 10).contains("a FIFO"));
  }

  @Test
  void read_directory_isRefused() throws Exception {
    Files.createDirectory(dir.resolve("d"));
    assertTrue(refused(dir.resolve("d"), 10).contains("a directory"));
  }
}
