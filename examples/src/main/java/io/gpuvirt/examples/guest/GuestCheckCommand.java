package io.gpuvirt.examples.guest;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Sysfs;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt guest-check [--root DIR] [--cuda-library PATH] [--json]}: run inside a VM, checks
 * that its NVIDIA GPUs sit behind PCIe root ports and that {@code cuInit} succeeds. See
 * {@link GuestCheck}.
 */
@Command(name = "guest-check", mixinStandardHelpOptions = true,
    description = {"Run inside a VM: check that every NVIDIA GPU sits behind a PCIe root port"
        + " (not on the root complex, where an HGX B200 fails cuInit with 3) and that cuInit(0)"
        + " in libcuda.so.1 succeeds and sees a device. Reads only; changes nothing."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:both checks passed", "1:a check failed (reasons and fixes printed)",
        "2:error (unreadable sysfs, bad arguments)"})
public final class GuestCheckCommand implements Callable<Integer> {
  /** Both checks passed. */
  static final int PASSED = 0;
  /** A check failed. */
  static final int FAILED = 1;
  /** The check could not run. */
  static final int ERROR = 2;

  @Spec CommandSpec spec;

  @Option(names = "--root", paramLabel = "DIR", defaultValue = "/",
      description = "The guest's root, which holds sys/ (default: ${DEFAULT-VALUE}).")
  Path root;

  @Option(names = "--cuda-library", paramLabel = "PATH",
      defaultValue = CudaDriverProbe.DEFAULT_LIBRARY,
      description = "The CUDA driver library: a name the dynamic linker finds, or a path"
          + " (default: ${DEFAULT-VALUE}).")
  String cudaLibrary;

  @Option(names = "--json", description = "Print the report as JSON.")
  boolean json;

  /** A command line for this command alone, with the exit codes above. */
  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new GuestCheckCommand());
    cl.setExpandAtFiles(false); // no @FILE argument files, as in the gpuvirt CLI
    cl.setExitCodeExceptionMapper(e -> ERROR);
    cl.setExecutionExceptionHandler((e, cmd, parseResult) -> {
      cmd.getErr().println("gpuvirt guest-check: " + (e instanceof GpuvirtException
          ? e.getMessage() : "unexpected error: " + e));
      return ERROR;
    });
    return cl;
  }

  @Override
  public Integer call() {
    GuestCheckReport report;
    try {
      report = GuestCheck.run(Sysfs.at(root), cudaLibrary);
    } catch (GpuvirtException e) {
      spec.commandLine().getErr().println("gpuvirt guest-check: " + e.getMessage());
      if (json) {
        com.fasterxml.jackson.databind.node.ObjectNode doc =
            new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        doc.putObject("error").put("kind", "error").put("message", e.getMessage())
            .put("exitCode", ERROR);
        spec.commandLine().getOut().println(doc.toPrettyString());
        spec.commandLine().getOut().flush();
      }
      return ERROR;
    }
    PrintWriter out = spec.commandLine().getOut();
    out.print(json ? report.toJson() + "\n" : report.render());
    out.flush();
    return report.passed() ? PASSED : FAILED;
  }
}
