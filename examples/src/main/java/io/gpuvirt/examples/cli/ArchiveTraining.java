package io.gpuvirt.examples.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import picocli.CommandLine;

/**
 * The build's training run for the launcher's class-data-sharing archive, not a command: {@code
 * java -XX:DumpLoadedClassList=LIST -cp gpuvirt.jar io.gpuvirt.examples.cli.ArchiveTraining}
 * runs the common commands once in one JVM (a simulated HGX B200 written to a temporary
 * directory, then {@code topology} as text and JSON, {@code status}, {@code doctor}, the main
 * job's {@code provision} and {@code teardown} on it, and the help texts), so that {@code LIST}
 * names every class they load; {@code java -Xshare:dump} then archives those classes
 * (examples/pom.xml, execution {@code cds-archive}).
 *
 * <p>One JVM, not one per command: the JDK 17 dump crashes on a class list that names one lambda
 * twice, so lists cannot be concatenated. The commands' output is discarded and the simulated
 * host deleted; the exit code is 0 when every command gave the exit code it gives on a good
 * build, else 1 with the first that did not on stderr.
 */
final class ArchiveTraining {
  private ArchiveTraining() {}

  public static void main(String[] args) throws IOException {
    System.setProperty("picocli.disable.closures", "true"); // as GpuvirtCli.main
    Path dir = Files.createTempDirectory("gpuvirt-cds-training-");
    int code;
    try {
      code = train(dir.resolve("host").toString());
    } finally {
      delete(dir);
    }
    System.exit(code);
  }

  private static int train(String root) {
    List<List<String>> runs = List.of(
        List.of("simulate", "--profile", "hgx-b200", "--out", root),
        List.of("topology", "--root", root),
        List.of("topology", "--root", root, "--json"),
        List.of("status", "--root", root),
        List.of("doctor", "--root", root, "--json"),
        List.of("provision", "--gpus", "2", "--owner", "training", "--qemu-version", "10.1.0",
            "--root", root),
        List.of("teardown", "--owner", "training", "--root", root),
        List.of("--help"),
        List.of("topology", "--help"));
    for (List<String> run : runs) {
      String[] argv = run.toArray(String[]::new);
      CommandLine cl = GpuvirtCli.commandLine(argv);
      StringWriter err = new StringWriter();
      cl.setOut(new PrintWriter(new StringWriter()));
      cl.setErr(new PrintWriter(err));
      int code = cl.execute(argv);
      // doctor on a simulated host with the default policy may report "not ready" (1).
      boolean expected = code == Cli.OK || (run.get(0).equals("doctor") && code == Cli.REFUSED);
      if (!expected) {
        System.err.println("ArchiveTraining: 'gpuvirt " + String.join(" ", run) + "' exited "
            + code + ": " + err);
        return Cli.REFUSED;
      }
    }
    return Cli.OK;
  }

  /** Deletes {@code dir} and everything under it, never following a link (sysfs has loops). */
  private static void delete(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
