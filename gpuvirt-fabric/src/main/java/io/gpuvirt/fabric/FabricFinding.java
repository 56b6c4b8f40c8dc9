package io.gpuvirt.fabric;

import java.util.Optional;

/**
 * One result of a Fabric Manager readiness check.
 *
 * @param check a short stable name ({@code fabric-mode}, {@code driver-version})
 * @param severity whether it passed
 * @param message what was found, naming the file or value
 * @param fix what to do, when it did not pass
 */
public record FabricFinding(String check, Severity severity, String message,
    Optional<String> fix) {
  /** How a finding affects readiness. */
  public enum Severity {
    /** The check passed. */
    OK,
    /** Worth a look; does not stop gpuvirt. */
    WARN,
    /** The host is not ready for partitioned GPU passthrough. */
    FAIL
  }

  static FabricFinding ok(String check, String message) {
    return new FabricFinding(check, Severity.OK, message, Optional.empty());
  }

  static FabricFinding warn(String check, String message, String fix) {
    return new FabricFinding(check, Severity.WARN, message, Optional.of(fix));
  }

  static FabricFinding fail(String check, String message, String fix) {
    return new FabricFinding(check, Severity.FAIL, message, Optional.of(fix));
  }
}
