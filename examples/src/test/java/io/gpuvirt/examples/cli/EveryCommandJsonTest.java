package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every command picocli knows takes {@code --json}, and with it prints one JSON document on stdout
 * on success and on error ({@code {"error": {"kind", "message", "exitCode"}}}), with the exit code
 * of the README (0 ok, 1 refused or not ready, 2 error).
 *
 * <p>The commands are walked from the CLI's own subcommand map: a new command without
 * {@code --json}, or without cases here, fails this test.
 */
final class EveryCommandJsonTest {
  @TempDir Path temp;

  /** One run: optional setup runs (without --json), then the command with --json. */
  private record Case(int exitCode, List<List<String>> setup, List<String> args) {
    static Case of(int exitCode, String... args) {
      return new Case(exitCode, List.of(), List.of(args));
    }

    Case after(String... setupArgs) {
      List<List<String>> s = new ArrayList<>(setup);
      s.add(List.of(setupArgs));
      return new Case(exitCode, s, args);
    }
  }

  private static final String Q = "10.1.0";

  /** Per command path: a success case, then an error case. */
  private static Map<String, List<Case>> cases() {
    Map<String, List<Case>> c = new TreeMap<>();
    c.put("provision", List.of(
        Case.of(0, "provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", Q, "--root",
            "HOST"),
        Case.of(1, "provision", "--gpus", "99", "--owner", "vm-1", "--qemu-version", Q, "--root",
            "HOST")));
    c.put("teardown", List.of(
        Case.of(0, "teardown", "--owner", "vm-1", "--root", "HOST").after("provision", "--gpus",
            "1", "--owner", "vm-1", "--qemu-version", Q, "--root", "HOST"),
        Case.of(2, "teardown", "--owner", "vm-1", "--root", "MISSING")));
    c.put("status", List.of(
        Case.of(0, "status", "--root", "HOST"),
        Case.of(2, "status", "--root", "MISSING")));
    c.put("recover", List.of(
        Case.of(0, "recover", "--root", "HOST"),
        Case.of(2, "recover", "--root", "MISSING")));
    c.put("qemu-args", List.of(
        Case.of(0, "qemu-args", "--owner", "vm-1", "--qemu-version", Q, "--root", "HOST")
            .after("provision", "--gpus", "1", "--owner", "vm-1", "--qemu-version", Q, "--root",
                "HOST"),
        Case.of(1, "qemu-args", "--owner", "nobody", "--qemu-version", Q, "--root", "HOST")));
    c.put("simulate", List.of(
        Case.of(0, "simulate", "--profile", "workstation", "--out", "NEW"),
        Case.of(2, "simulate", "--profile", "no-such-profile", "--out", "NEW")));
    c.put("topology", List.of(
        Case.of(0, "topology", "--root", "HOST"),
        Case.of(2, "topology", "--root", "MISSING")));
    c.put("doctor", List.of(
        Case.of(0, "doctor", "--root", "HOST"),
        Case.of(2, "doctor", "--root", "MISSING")));
    c.put("bind", List.of(
        Case.of(0, "bind", "--owner", "vm-1", "0000:17:00.0", "--root", "HOST"),
        Case.of(2, "bind", "--owner", "vm-1", "0000:17:00.9x", "--root", "HOST")));
    c.put("allocate", List.of(
        Case.of(0, "allocate", "--gpus", "1", "--owner", "vm-1", "--root", "HOST"),
        Case.of(1, "allocate", "--gpus", "99", "--owner", "vm-1", "--root", "HOST")));
    c.put("release", List.of(
        Case.of(0, "release", "--owner", "vm-1", "--root", "HOST").after("allocate", "--gpus",
            "1", "--owner", "vm-1", "--root", "HOST"),
        Case.of(2, "release", "--owner", "", "--root", "HOST")));
    c.put("leases", List.of(
        Case.of(0, "leases", "--root", "HOST"),
        Case.of(1, "leases", "--owner", "nobody", "--root", "HOST")));
    c.put("reconcile", List.of(
        Case.of(0, "reconcile", "--root", "HOST"),
        Case.of(2, "reconcile", "--root", "MISSING")));
    c.put("partitions list", List.of(
        Case.of(0, "partitions", "list", "--root", "HOST"),
        Case.of(1, "partitions", "list", "--root", "H100")));
    c.put("partitions activate", List.of(
        Case.of(0, "partitions", "activate", "1", "--root", "HOST"),
        Case.of(2, "partitions", "activate", "one", "--root", "HOST")));
    c.put("partitions deactivate", List.of(
        Case.of(0, "partitions", "deactivate", "1", "--root", "HOST").after("partitions",
            "activate", "1", "--root", "HOST"),
        Case.of(1, "partitions", "deactivate", "1", "--root", "HOST")));
    c.put("module-ids", List.of(
        Case.of(0, "module-ids", "--root", "HOST"),
        Case.of(1, "module-ids", "--root", "H100")));
    c.put("vgpu types", List.of(
        Case.of(0, "vgpu", "types", "--root", "VGPU"),
        Case.of(2, "vgpu", "types", "--gpu", "0000:3d:00.9x", "--root", "VGPU")));
    c.put("vgpu enable", List.of(
        Case.of(0, "vgpu", "enable", "--all", "--root", "VGPU"),
        Case.of(2, "vgpu", "enable", "3d:00.0/../x", "--root", "VGPU")));
    c.put("vgpu disable", List.of(
        Case.of(0, "vgpu", "disable", "--all", "--root", "VGPU").after("vgpu", "enable", "--all",
            "--root", "VGPU"),
        Case.of(1, "vgpu", "disable", "0000:3d:00.0", "--root", "VGPU")
            .after("vgpu", "enable", "--all", "--root", "VGPU")
            .after("vgpu", "provision", "--type", "L40S-1Q", "--owner", "vm-1", "--root",
                "VGPU")));
    c.put("vgpu provision", List.of(
        Case.of(0, "vgpu", "provision", "--type", "L40S-1Q", "--owner", "vm-1", "--root", "VGPU")
            .after("vgpu", "enable", "--all", "--root", "VGPU"),
        Case.of(1, "vgpu", "provision", "--type", "L40S-99Z", "--owner", "vm-1", "--root",
            "VGPU").after("vgpu", "enable", "--all", "--root", "VGPU")));
    String[] register = {"fleet", "register", "--jdbc", "JDBC", "--host", "hgx-1", "--root",
        "HOST"};
    c.put("fleet migrate", List.of(
        Case.of(0, "fleet", "migrate", "--jdbc", "JDBC"),
        Case.of(2, "fleet", "migrate", "--jdbc", "jdbc:mysql://127.0.0.1/fleet")));
    c.put("fleet register", List.of(
        Case.of(0, register),
        Case.of(2, "fleet", "register", "--jdbc", "JDBC", "--host", "hgx 1", "--root", "HOST")));
    c.put("fleet allocate", List.of(
        Case.of(0, "fleet", "allocate", "--jdbc", "JDBC", "--gpus", "2", "--owner", "vm-1")
            .after(register),
        Case.of(1, "fleet", "allocate", "--jdbc", "JDBC", "--gpus", "9", "--owner", "vm-1")
            .after(register)));
    c.put("fleet list", List.of(
        Case.of(0, "fleet", "list", "--jdbc", "JDBC").after(register),
        Case.of(2, "fleet", "list", "--jdbc", "postgresql://127.0.0.1/fleet")));
    c.put("fleet release", List.of(
        Case.of(0, "fleet", "release", "--jdbc", "JDBC", "--owner", "vm-1").after(register)
            .after("fleet", "allocate", "--jdbc", "JDBC", "--gpus", "2", "--owner", "vm-1"),
        Case.of(2, "fleet", "release", "--jdbc", "JDBC", "--owner", "")));
    c.put("fleet agent", List.of(
        Case.of(0, "fleet", "agent", "--jdbc", "JDBC", "--host", "hgx-1", "--root", "HOST")
            .after(register)
            .after("fleet", "allocate", "--jdbc", "JDBC", "--gpus", "2", "--owner", "vm-1"),
        Case.of(2, "fleet", "agent", "--jdbc", "JDBC", "--host", "hgx-2", "--root", "HOST")));
    c.put("fleet remove", List.of(
        Case.of(0, "fleet", "remove", "--jdbc", "JDBC", "--host", "hgx-1").after(register),
        Case.of(1, "fleet", "remove", "--jdbc", "JDBC", "--host", "hgx-1").after(register)
            .after("fleet", "allocate", "--jdbc", "JDBC", "--gpus", "2", "--owner", "vm-1")));
    c.put("mig status", List.of(
        Case.of(0, "mig", "status", "--root", "HOST"),
        Case.of(2, "mig", "status", "--root", "MISSING")));
    c.put("mig apply", List.of(
        Case.of(0, "mig", "apply", "-f", "MIGFILE", "-c", "balanced", "--root", "HOST"),
        Case.of(2, "mig", "apply", "-f", "MIGFILE", "-c", "no-such-config", "--root", "HOST")));
    c.put("mig assert", List.of(
        Case.of(0, "mig", "assert", "-f", "MIGFILE", "-c", "balanced", "--root", "HOST")
            .after("mig", "apply", "-f", "MIGFILE", "-c", "balanced", "--root", "HOST"),
        Case.of(1, "mig", "assert", "-f", "MIGFILE", "-c", "balanced", "--root", "HOST")));
    c.put("mig export", List.of(
        Case.of(0, "mig", "export", "--root", "HOST"),
        Case.of(2, "mig", "export", "--root", "MISSING")));
    c.put("guest-check", List.of(
        Case.of(1, "guest-check", "--root", "HOST", "--cuda-library", "NOLIB"),
        Case.of(2, "guest-check", "--root", "MISSING")));
    return c;
  }

  /** The leaf commands (those that run), by their path below {@code gpuvirt}. */
  private static Map<String, CommandLine> leaves(CommandLine cl, String prefix,
      Map<String, CommandLine> into) {
    for (Map.Entry<String, CommandLine> e : cl.getSubcommands().entrySet()) {
      String name = (prefix + " " + e.getKey()).strip();
      if (e.getValue().getCommandSpec().userObject() instanceof CommandLine.HelpCommand) {
        continue; // picocli's own 'help': prints usage text, no result to report
      }
      if (e.getValue().getSubcommands().isEmpty()) {
        into.put(name, e.getValue());
      } else {
        leaves(e.getValue(), name, into);
      }
    }
    return into;
  }

  @Test
  void everyCommand_hasJsonAndCases() {
    Map<String, CommandLine> leaves = leaves(Cli.commandLine(new GpuvirtCli()), "",
        new TreeMap<>());
    List<String> withoutJson = leaves.entrySet().stream()
        .filter(e -> e.getValue().getCommandSpec().findOption("--json") == null)
        .map(Map.Entry::getKey).toList();
    assertEquals(List.of(), withoutJson, "commands without --json");
    assertEquals(leaves.keySet(), cases().keySet(), "every command needs a success and an"
        + " error case here");
  }

  @Test
  void everyCommand_json_printsOneDocumentWithTheReadmeExitCode() throws IOException {
    ObjectMapper mapper = new ObjectMapper();
    List<String> failures = new ArrayList<>();
    int n = 0;
    for (Map.Entry<String, List<Case>> e : cases().entrySet()) {
      for (int i = 0; i < e.getValue().size(); i++) {
        Case run = e.getValue().get(i);
        boolean success = i == 0;
        Path dir = temp.resolve("run" + n++);
        Path host = dir.resolve("host");
        SimulatedHost.create(HostProfile.hgxB200(), host).close();
        for (List<String> setup : run.setup()) {
          CliRun s = CliRun.of(argv(setup.stream(), dir));
          if (s.exitCode() != 0) {
            fail(e.getKey() + " setup " + setup + " failed: " + s);
          }
        }
        CliRun result = CliRun.of(argv(Stream.concat(run.args().stream(), Stream.of("--json")),
            dir));
        String what = e.getKey() + (success ? " (success) " : " (error) ") + result;
        JsonNode doc;
        try {
          doc = mapper.readTree(result.out());
        } catch (IOException notJson) {
          failures.add("not JSON: " + what);
          continue;
        }
        if (doc == null || doc.isMissingNode()) {
          failures.add("no JSON on stdout: " + what);
          continue;
        }
        if (result.exitCode() != run.exitCode()) {
          failures.add("exit code " + result.exitCode() + ", expected " + run.exitCode() + ": "
              + what);
        }
        JsonNode error = doc.path("error");
        if (success && run.exitCode() == 0 && !error.isMissingNode()) {
          failures.add("an error object on success: " + what);
        }
        if (!success && (error.path("exitCode").asInt(-1) != result.exitCode()
            || error.path("message").asText().isEmpty() || error.path("kind").asText()
            .isEmpty())) {
          failures.add("no {error: {kind, message, exitCode}} matching the exit code: " + what);
        }
      }
    }
    assertTrue(failures.isEmpty(), String.join("\n\n", failures));
    assertFalse(cases().isEmpty());
  }

  /** Per run directory, a fresh fleet schema, migrated (for the JDBC placeholder). */
  private final Map<Path, String> fleets = new TreeMap<>();

  private String fleetUrl(Path dir) {
    return fleets.computeIfAbsent(dir, d -> {
      io.gpuvirt.core.fleet.testing.UrlDataSource db =
          io.gpuvirt.core.fleet.testing.TestPostgres.require().freshSchema();
      io.gpuvirt.core.fleet.JdbcSchema.migrate(db);
      return db.url();
    });
  }

  private String[] argv(Stream<String> args, Path dir) {
    Path h100 = dir.resolve("h100");
    return args.map(a -> switch (a) {
      case "JDBC" -> fleetUrl(dir);
      case "MIGFILE" -> {
        Path file = dir.resolve("mig.yaml");
        try {
          java.nio.file.Files.writeString(file, "version: v1\nmig-configs:\n  balanced:\n"
              + "    - devices: all\n      mig-enabled: true\n      mig-devices:\n"
              + "        \"3g.90gb\": 2\n");
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
        yield file.toString();
      }
      case "HOST" -> dir.resolve("host").toString();
      case "MISSING" -> dir.resolve("missing").toString();
      case "NEW" -> dir.resolve("new").toString();
      case "NOLIB" -> dir.resolve("no-libcuda.so").toString();
      case "VGPU" -> {
        Path vgpuHost = dir.resolve("vgpu");
        if (!vgpuHost.toFile().exists()) {
          SimulatedHost.create(HostProfile.l40sVgpu(), vgpuHost).close();
        }
        yield vgpuHost.toString();
      }
      case "H100" -> {
        if (!h100.toFile().exists()) {
          SimulatedHost.create(HostProfile.preset("hgx-h100"), h100).close();
        }
        yield h100.toString();
      }
      default -> a;
    }).toArray(String[]::new);
  }
}
