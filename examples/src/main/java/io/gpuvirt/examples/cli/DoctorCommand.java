package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.doctor.Finding;
import io.gpuvirt.core.doctor.Fix;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.doctor.HostDoctor;
import io.gpuvirt.core.doctor.ReadinessReport;
import io.gpuvirt.core.doctor.Severity;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.fabric.FabricConfigException;
import io.gpuvirt.fabric.FabricFinding;
import io.gpuvirt.fabric.FabricManagerConfig;
import io.gpuvirt.fabric.FabricReadiness;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt doctor [--root DIR] [--json] [--policy P]}: is this host ready for passthrough.
 * With a {@code fabricmanager.cfg} in shared NVSwitch mode, Fabric Manager's own checks are
 * included.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
    description = {"Check whether the host is ready for GPU passthrough.",
        "Each finding has a severity, the evidence read from the host and the exact fix (the"
            + " GRUB line, the modules-load.d and modprobe.d files, the commands to run)."
            + " gpuvirt never writes those files itself."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:ready", "1:not ready (findings and fixes printed)", "2:error"})
final class DoctorCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--root", paramLabel = "DIR",
      description = "Host root: / or a directory for a simulated host "
          + " (default: the demo simulated host under $TMPDIR/gpuvirt-demo when it exists,"
          + " else /).")
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
    java.nio.file.Path hostRoot = HostOptions.resolve(root, spec.commandLine().getErr());
    Sysfs sysfs = Sysfs.at(hostRoot);
    List<Finding> fabric = new ArrayList<>();
    Optional<FabricManagerConfig> cfg = Optional.empty();
    try {
      cfg = HostMode.fabricManagerConfig(sysfs);
    } catch (FabricConfigException e) {
      fabric.add(new Finding("fabric.config", Severity.ERROR, "Fabric Manager's configuration"
          + " cannot be read: " + e.getMessage(), List.of(e.source() + " line " + e.line()),
          Optional.of(new Fix("correct line " + e.line() + " of " + e.source()
              + " (KEY=value, or comment it out with #)", Optional.of(e.source()), "",
              List.of("systemctl restart nvidia-fabricmanager")))));
    }
    cfg.ifPresent(c -> fabric.addAll(fabricFindings(c)));
    ReadinessReport report = HostDoctor.examine(sysfs, policy(cfg)).plus(fabric);
    // MIG modes waiting for a reset, through the host's nvidia-smi: only where a device is bound
    // to the nvidia driver (the driver's own directory says so; no second scan of the host)
    boolean nvidia;
    try {
      String driver = "/sys/bus/pci/drivers/nvidia";
      nvidia = sysfs.isDirectory(driver) && sysfs.list(driver).stream()
          .anyMatch(io.gpuvirt.core.pci.PciAddress::isValid);
    } catch (io.gpuvirt.core.GpuvirtException unreadable) {
      nvidia = false; // the host checks above already report why the tree cannot be read
    }
    report = !nvidia ? report : report.plus(io.gpuvirt.fabric.mig.MigReadiness.check(
        io.gpuvirt.fabric.mig.NvidiaSmiMigBackend.on(
            io.gpuvirt.core.gpuhost.GpuHost.environment(hostRoot).commands())));
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(toJson(report));
    } else {
      out.print(report.render());
    }
    out.flush();
    return report.ready() ? Cli.OK : Cli.REFUSED;
  }

  /**
   * Fabric Manager's readiness in shared NVSwitch mode (the fabric module's checks); vGPU mode
   * (2) and the others are reported.
   */
  private static List<Finding> fabricFindings(FabricManagerConfig cfg) {
    if (cfg.fabricMode() == 2) {
      return List.of(new Finding("fabric-mode", Severity.INFO, "FABRIC_MODE=2 in " + cfg.source()
          + ": vGPU-based multitenancy: each vGPU VM's partition is activated with its VFs"
          + " before it starts (through libnvfm: fmpm cannot pass VFs); vGPUs that talk"
          + " peer-to-peer go to one VM, and MIG-backed vGPUs are not supported", List.of(
              cfg.source() + ": FABRIC_MODE=2"), Optional.empty()));
    }
    if (!cfg.sharedNvswitchMode()) {
      return List.of(new Finding("fabric-mode", Severity.INFO, "FABRIC_MODE=" + cfg.fabricMode()
          + " in " + cfg.source() + ": no NVSwitch partitions; GPUs are passed through without"
          + " Fabric Manager partitions", List.of(cfg.source() + ": FABRIC_MODE="
              + cfg.fabricMode()), Optional.empty()));
    }
    List<Finding> out = new ArrayList<>();
    for (FabricFinding f : FabricReadiness.check(cfg)) {
      Severity severity = switch (f.severity()) {
        case OK -> Severity.OK;
        case WARN -> Severity.WARNING;
        case FAIL -> Severity.ERROR;
      };
      out.add(new Finding(f.check(), severity, f.message(), List.of(cfg.source()),
          f.fix().map(text -> new Fix(text, Optional.empty(), "", List.of()))));
    }
    return out;
  }

  private GpuDriverPolicy policy(Optional<FabricManagerConfig> cfg) {
    switch (policy) {
      case "static-vfio":
        return GpuDriverPolicy.STATIC_VFIO;
      case "rebind-per-vm":
        return GpuDriverPolicy.REBIND_PER_VM;
      case "auto":
        return cfg.map(FabricManagerConfig::sharedNvswitchMode).orElse(false)
            ? GpuDriverPolicy.REBIND_PER_VM : GpuDriverPolicy.STATIC_VFIO;
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
