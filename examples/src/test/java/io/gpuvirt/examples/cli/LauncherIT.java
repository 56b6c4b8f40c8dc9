package io.gpuvirt.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.testkit.HostProfile;
import io.gpuvirt.testkit.SimulatedHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The launcher {@code target/gpuvirt} that the package phase writes (with its class-data-sharing
 * archive {@code target/gpuvirt.jsa}): it runs the CLI as {@code java -jar target/gpuvirt.jar}
 * does. Runs in verify, after package (examples/pom.xml, execution {@code launcher-it}).
 */
final class LauncherIT {
  private static final Path TARGET = Path.of(System.getProperty("gpuvirt.build.directory",
      "target"));

  private Path tmp;
  private Path host;

  @BeforeEach
  void simulate() throws IOException {
    tmp = TempRoots.create("gpuvirt-launcher-");
    host = tmp.resolve("host");
    SimulatedHost.create(HostProfile.hgxB200(), host).close();
  }

  @AfterEach
  void deleteTmp() throws IOException {
    TempRoots.delete(tmp);
  }

  private static CommandResult run(List<String> program, Map<String, String> environment,
      String... args) {
    List<String> argv = new ArrayList<>(program);
    argv.addAll(List.of(args));
    return CommandRunner.system().run(Command.of(argv).withTimeout(Duration.ofMinutes(1))
        .withEnvironment(environment));
  }

  private static List<String> launcher() {
    Path launcher = TARGET.resolve("gpuvirt");
    assertTrue(Files.isRegularFile(launcher) && Files.isExecutable(launcher),
        launcher + " is not an executable file: the package phase writes it");
    return List.of(launcher.toString());
  }

  private static List<String> javaJar() {
    String java = ProcessHandle.current().info().command().orElse("java");
    return List.of(java, "-jar", TARGET.resolve("gpuvirt.jar").toString());
  }

  private static List<Object> shown(CommandResult r) {
    return List.of(r.exitCode(), r.stdout(), r.stderr());
  }

  @Test
  void launcher_topology_printsWhatJavaJarPrints() {
    String root = host.toString();
    assertEquals(shown(run(javaJar(), Map.of(), "topology", "--root", root)),
        shown(run(launcher(), Map.of(), "topology", "--root", root)));
  }

  @Test
  void launcher_helpAndUnknownCommand_printAndExitAsJavaJar() {
    for (String[] args : List.of(new String[] {"--help"}, new String[] {"topolgy"})) {
      assertEquals(shown(run(javaJar(), Map.of(), args)), shown(run(launcher(), Map.of(), args)),
          String.join(" ", args));
    }
  }

  @Test
  void launcher_archive_servesTheCliClasses() {
    Path archive = TARGET.resolve("gpuvirt.jsa");
    if (!Files.isRegularFile(archive)) {
      String why = archive + " is missing: the package phase's training run or dump failed (see "
          + TARGET.resolve("cds") + ")";
      if ("1".equals(System.getenv("GPUVIRT_REQUIRE_TOOLS"))) {
        fail(why + ", and GPUVIRT_REQUIRE_TOOLS=1 requires the archive");
      }
      Assumptions.abort(why + "; skipping (set GPUVIRT_REQUIRE_TOOLS=1 to fail)");
    }
    Path log = tmp.resolve("class-load.log");
    // -Xshare:on: the JVM refuses to start unless it can map the archive.
    CommandResult r = run(launcher(), Map.of("GPUVIRT_JAVA_OPTS",
        "-Xshare:on -Xlog:class+load=info:file=" + log), "topology", "--root", host.toString());
    assertEquals(0, r.exitCode(), r.stderr());
    String loaded;
    try {
      loaded = Files.readString(log);
    } catch (IOException e) {
      throw new AssertionError("no class-load log " + log + ": " + r.stderr(), e);
    }
    List<String> notShared = loaded.lines().filter(l -> l.contains(
        " io.gpuvirt.examples.cli.TopologyCommand ") || l.contains(" picocli.CommandLine "))
        .filter(l -> !l.endsWith("source: shared objects file")).toList();
    assertEquals(List.of(), notShared, "CLI classes loaded from the jar, not the archive");
  }
}
