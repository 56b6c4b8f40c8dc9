package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * With {@code --json}, a failed command still prints one JSON object on stdout, {@code {"error":
 * {"kind", "message", "exitCode"}}}, whose exit code is the process's.
 */
final class JsonErrorsTest {
  @TempDir Path temp;

  static Stream<Arguments> failures() {
    return Stream.of(
        Arguments.of("usage", 2, List.of("provision", "--gpus", "x", "--owner", "vm-1")),
        Arguments.of("refused", 1, List.of("provision", "--gpus", "99", "--owner", "vm-1",
            "--qemu-version", "10.1.0", "--root", "HOST")),
        Arguments.of("invalid-value", 2, List.of("provision", "--gpus", "1", "--owner", "vm-1",
            "--qemu-version", "banana", "--root", "HOST")),
        Arguments.of("refused", 1, List.of("qemu-args", "--owner", "nobody", "--qemu-version",
            "10.1.0", "--root", "HOST")),
        Arguments.of("invalid-value", 2, List.of("qemu-args", "--owner", "vm-1",
            "--qemu-version", "1.x", "--root", "HOST")),
        Arguments.of("usage", 2, List.of("allocate", "--gpus", "-1", "--owner", "vm-1")),
        Arguments.of("error", 2, List.of("topology", "--root", "MISSING")),
        Arguments.of("error", 2, List.of("doctor", "--root", "MISSING")),
        Arguments.of("usage", 2, List.of("leases", "--owner", "@x")),
        Arguments.of("usage", 2, List.of("release", "--owner", "")),
        Arguments.of("invalid-value", 2, List.of("bind", "--owner", "@x", "0000:17:00.0")),
        Arguments.of("usage", 2, List.of("module-ids", "--no-such-option")));
  }

  @ParameterizedTest(name = "{2}")
  @MethodSource("failures")
  void json_failedCommand_printsAnErrorObject(String kind, int exitCode, List<String> args)
      throws IOException {
    Path host = temp.resolve("host");
    if (!Files.exists(host)) {
      SimulatedHost.create(HostProfile.hgxB200(), host).close();
    }
    String[] argv = Stream.concat(args.stream(), Stream.of("--json"))
        .map(a -> a.equals("HOST") ? host.toString()
            : a.equals("MISSING") ? temp.resolve("missing").toString() : a)
        .toArray(String[]::new);
    CliRun run = CliRun.of(argv);
    JsonNode error = new ObjectMapper().readTree(run.out()).path("error");
    assertEquals(List.of(exitCode, kind, exitCode, true),
        List.of(run.exitCode(), error.path("kind").asText(), error.path("exitCode").asInt(),
            !error.path("message").asText().isEmpty()), run.toString());
  }
}
