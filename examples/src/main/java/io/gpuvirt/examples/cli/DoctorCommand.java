package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.doctor.Finding;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.doctor.HostDoctor;
import io.gpuvirt.core.doctor.ReadinessReport;
import io.gpuvirt.core.host.Sysfs;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuvirt doctor [--root DIR] [--json] [--policy P]}: is this host ready for passthrough. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
    description = {"Check whether the host is ready for GPU passthrough.",
        "Each finding has a severity, the evidence read from the host and the exact fix (the"
            + " GRUB line, the modules-load.d and modprobe.d files, the commands to run)."
            + " gpuvirt never writes those files itself."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:ready", "1:not ready (findings and fixes printed)", "2:error"})
final class DoctorCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--root", paramLabel = "DIR", defaultValue = "/",
      description = "Host root (default: ${DEFAULT-VALUE}; a directory for a simulated host).")
  Path root;

  @Option(names = "--json", description = "Print the report as JSON.")
  boolean json;

  @Option(names = "--policy", paramLabel = "POLICY", defaultValue = "auto",
      description = "Where idle GPUs belong: static-vfio (bound to vfio-pci from boot),"
          + " rebind-per-vm (on nvidia between tenants, as shared NVSwitch mode needs), or auto"
          + " (rebind-per-vm when fabricmanager.cfg says FABRIC_MODE=1). Default: ${DEFAULT-VALUE}.")
  String policy;

  @Override
  public Integer call() {
    Sysfs sysfs = Sysfs.at(root);
    ReadinessReport report = HostDoctor.examine(sysfs, policy(sysfs));
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(toJson(report));
    } else {
      out.print(report.render());
    }
    out.flush();
    return report.ready() ? Cli.OK : Cli.REFUSED;
  }

  private GpuDriverPolicy policy(Sysfs sysfs) {
    switch (policy) {
      case "static-vfio":
        return GpuDriverPolicy.STATIC_VFIO;
      case "rebind-per-vm":
        return GpuDriverPolicy.REBIND_PER_VM;
      case "auto":
        return HostMode.sharedNvSwitch(sysfs) ? GpuDriverPolicy.REBIND_PER_VM
            : GpuDriverPolicy.STATIC_VFIO;
      default:
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
            "--policy must be static-vfio, rebind-per-vm or auto, not '" + policy + "'");
    }
  }

  static String toJson(ReadinessReport report) {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode root = mapper.createObjectNode();
    root.put("host", report.host());
    root.put("ready", report.ready());
    ArrayNode findings = root.putArray("findings");
    for (Finding f : report.findings()) {
      ObjectNode node = findings.addObject();
      node.put("check", f.check());
      node.put("severity", f.severity().name());
      node.put("summary", f.summary());
      ArrayNode evidence = node.putArray("evidence");
      f.evidence().forEach(evidence::add);
      f.fix().ifPresent(fix -> {
        ObjectNode fixNode = node.putObject("fix");
        fixNode.put("summary", fix.summary());
        fix.file().ifPresent(file -> fixNode.put("file", file));
        fixNode.put("content", fix.content());
        ArrayNode commands = fixNode.putArray("commands");
        fix.commands().forEach(commands::add);
      });
    }
    return root.toPrettyString();
  }
}
