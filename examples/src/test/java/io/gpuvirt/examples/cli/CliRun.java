package io.gpuvirt.examples.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.stream.Stream;
import picocli.CommandLine;

/** One run of the gpuvirt CLI with its exit code and what it printed. */
record CliRun(int exitCode, String out, String err) {
  /** One run as {@code gpuvirt args} runs: through {@link GpuvirtCli#commandLine(String...)}. */
  static CliRun of(String... args) {
    return on(GpuvirtCli.commandLine(args), args);
  }

  /** One run of {@code args} on the command line {@code cl}. */
  static CliRun on(CommandLine cl, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }

  /** One run with {@code --root root} after {@code args}. */
  static CliRun withRoot(Path root, String... args) {
    return of(Stream.concat(Stream.of(args), Stream.of("--root", root.toString()))
        .toArray(String[]::new));
  }
}
