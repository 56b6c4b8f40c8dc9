package io.gpuvirt.core.pci;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * Tests that need an external program ({@code lspci}) run when it is installed. When the
 * environment sets {@code GPUVIRT_REQUIRE_TOOLS=1} (CI does) a missing program fails the test
 * instead of skipping it.
 */
final class ExternalTools {
  private ExternalTools() {}

  /** The program's path, or a skip (a failure under GPUVIRT_REQUIRE_TOOLS=1) when it is missing. */
  static Path require(String program) {
    Optional<Path> found = find(program);
    if (found.isPresent()) {
      return found.get();
    }
    String why = program + " is not installed (not on PATH)";
    if ("1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS"))) {
      fail(why + " and GPUVIRT_REQUIRE_TOOLS=1; install it (pciutils for lspci)");
    }
    Assumptions.abort(why + "; skipping (set GPUVIRT_REQUIRE_TOOLS=1 to make this a failure)");
    throw new AssertionError("unreachable");
  }

  static Optional<Path> find(String program) {
    String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator
        + "/usr/bin:/usr/sbin:/bin:/sbin";
    for (String dir : path.split(File.pathSeparator)) {
      if (!dir.isEmpty()) {
        Path candidate = Path.of(dir, program);
        if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
          return Optional.of(candidate);
        }
      }
    }
    return Optional.empty();
  }
}
