package io.gpuvirt.examples;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The one place the examples' tests decide about external tools: a test that needs one runs when
 * it is on PATH, is skipped when it is not, and fails instead when {@code GPUVIRT_REQUIRE_TOOLS=1}.
 */
public final class Tools {
  private Tools() {}

  /** Skips (or, with GPUVIRT_REQUIRE_TOOLS=1, fails) the calling test unless {@code tool} is on PATH. */
  public static void require(String tool) {
    if (onPath(tool)) {
      return;
    }
    if ("1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS"))) {
      fail(tool + " is not on PATH, and GPUVIRT_REQUIRE_TOOLS=1 requires it; install it");
    }
    Assumptions.abort(tool + " is not on PATH; skipping (set GPUVIRT_REQUIRE_TOOLS=1 to fail)");
  }

  /** Whether {@code tool} is an executable on PATH. */
  public static boolean onPath(String tool) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }
}
