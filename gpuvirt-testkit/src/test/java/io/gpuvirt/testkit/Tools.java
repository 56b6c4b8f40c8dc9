package io.gpuvirt.testkit;

import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * External tools for tests. A test that needs one runs when it is installed; when it is missing the
 * test is skipped, unless {@code GPUVIRT_REQUIRE_TOOLS=1}, where a missing tool fails the test.
 */
final class Tools {
  private Tools() {}

  /**
   * The path of {@code tool} on PATH (or in /usr/sbin, /sbin, where lspci often lives).
   *
   * @param debianPackage the package that installs it, named in the failure
   */
  static Path require(String tool, String debianPackage) {
    Optional<Path> found = find(tool);
    if (found.isPresent()) {
      return found.get();
    }
    String message = tool + " is not installed (not on PATH, /usr/sbin or /sbin)";
    if ("1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS"))) {
      fail(message + " but GPUVIRT_REQUIRE_TOOLS=1 requires it; install it (Debian: " + debianPackage + ")");
    }
    Assumptions.abort(message + "; set GPUVIRT_REQUIRE_TOOLS=1 to make this a failure");
    throw new AssertionError("unreachable");
  }

  static Optional<Path> find(String tool) {
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      dirs.addAll(List.of(path.split(File.pathSeparator)));
    }
    dirs.add("/usr/sbin");
    dirs.add("/sbin");
    for (String dir : dirs) {
      if (!dir.isEmpty()) {
        Path p = Path.of(dir, tool);
        if (Files.isExecutable(p)) {
          return Optional.of(p);
        }
      }
    }
    return Optional.empty();
  }

  /** lspci reading the host's tree through its sysfs back end; fails the test on a non-zero exit. */
  static String lspci(SimulatedHost host, String... args) {
    List<String> argv = new ArrayList<>();
    argv.add(require("lspci", "pciutils").toString());
    argv.add("-A");
    argv.add("linux-sysfs");
    argv.add("-O");
    argv.add("sysfs.path=" + host.root().resolve("sys/bus/pci"));
    argv.addAll(List.of(args));
    CommandResult r = CommandRunner.system()
        .run(Command.of(argv).withTimeout(Duration.ofSeconds(60)));
    if (!r.succeeded()) {
      fail(String.join(" ", argv) + " exited " + r.exitCode() + ": " + r.stderr());
    }
    return r.stdout();
  }
}
