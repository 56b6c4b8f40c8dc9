package io.gpuvirt.examples;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs an example's {@code main} the way a user does: in a JVM of its own (mains call
 * {@code System.exit}), on the test classpath, and returns its exit code and output.
 */
final class ExampleMains {
  private ExampleMains() {}

  static CommandResult run(Class<?> mainClass, String... args) {
    List<String> argv = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path")));
    String hosts = System.getProperty(SimulatedHost.TEMP_DIR_PROPERTY, "");
    if (!hosts.isEmpty()) {
      argv.add("-D" + SimulatedHost.TEMP_DIR_PROPERTY + "=" + hosts);
    }
    argv.add(mainClass.getName());
    argv.addAll(List.of(args));
    return CommandRunner.system().run(Command.of(argv).withTimeout(Duration.ofMinutes(2)));
  }
}
