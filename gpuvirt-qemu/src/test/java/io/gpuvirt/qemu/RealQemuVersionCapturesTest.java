package io.gpuvirt.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code --version} outputs of real QEMU builds, as published in issue trackers (each capture's
 * {@code .source} names where, and the version and package it must read): every one is read, to
 * the right version and package, old one-line RHEL forms included.
 */
final class RealQemuVersionCapturesTest {
  private static final Path DIR = Path.of("src/test/resources/captures/qemu-version");
  private static final Pattern EXPECT = Pattern.compile(
      "(?m)^expect: ([0-9]+)\\.([0-9]+)\\.([0-9]+)(?: package (.+)| no package)$");

  static List<String> captures() throws IOException {
    try (Stream<Path> files = Files.list(DIR)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".txt"))
          .map(n -> n.substring(0, n.length() - 4)).sorted().toList();
    }
  }

  private static String read(String name) {
    try {
      return Files.readString(DIR.resolve(name), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void captures_atLeastSixDistributionBuilds_eachWithItsSource() throws IOException {
    List<String> names = captures();
    assertTrue(names.size() >= 6 && names.stream().allMatch(n -> Files.exists(
        DIR.resolve(n + ".source"))), names.toString());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("captures")
  void parse_realCapture_readsTheVersionAndPackageItsSourceStates(String name) {
    Matcher expect = EXPECT.matcher(read(name + ".source"));
    assertTrue(expect.find(), name + ".source has no 'expect:' line");
    QemuVersion expected = new QemuVersion(Integer.parseInt(expect.group(1)),
        Integer.parseInt(expect.group(2)), Integer.parseInt(expect.group(3)),
        expect.group(4) == null ? "" : expect.group(4));

    assertEquals(expected, QemuVersion.parse(read(name + ".txt")));
  }
}
