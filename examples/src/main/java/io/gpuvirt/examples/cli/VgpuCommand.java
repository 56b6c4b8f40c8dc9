package io.gpuvirt.examples.cli;

import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuCapability;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuException;
import io.gpuvirt.core.vgpu.VgpuInterface;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt vgpu types|enable|disable}: the host's vGPU-capable GPUs, their types and
 * SR-IOV VFs (vendor-specific interface), through the library's {@link VgpuDevices}.
 */
@Command(name = "vgpu", mixinStandardHelpOptions = true,
    description = "NVIDIA vGPU on SR-IOV virtual functions: list types, enable or disable VFs.",
    subcommands = {VgpuCommand.Types.class, VgpuCommand.Enable.class, VgpuCommand.Disable.class,
        VgpuCommand.Provision.class})
final class VgpuCommand {

  static VgpuDevices devices(HostContext host) {
    return VgpuDevices.on(host.sysfs(), host.gpuHost().commands());
  }

  static PciAddress gpu(String text) {
    return PciAddress.parse(text);
  }

  /** {@code gpuvirt vgpu types [--gpu BDF]}. */
  @Command(name = "types", mixinStandardHelpOptions = true,
      description = {"List each vGPU-capable GPU, its VFs and its vGPU types: the types it can "
          + "take now (from a VF's creatable_vgpu_types) and the card's catalogue."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:listed", "2:bad arguments or an unreadable host"})
  static final class Types implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;

    @Option(names = "--gpu", paramLabel = "BDF", description = "Only this GPU.")
    String gpu;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (HostContext host = hostOptions.open()) {
        VgpuDevices vgpu = devices(host);
        List<VgpuCapability> gpus = gpu == null ? vgpu.capabilities()
            : List.of(vgpu.capability(gpu(gpu)));
        if (gpus.isEmpty()) {
          out.println("no GPU with vGPU support on " + host.describe());
        }
        for (VgpuCapability c : gpus) {
          out.println(c.pf() + " [" + c.id() + "] NUMA " + c.numaNode() + ", "
              + (c.vgpuInterface() == VgpuInterface.VENDOR_SPECIFIC ? "vendor-specific" : "mdev")
              + ", VFs " + c.virtualFunctions().size() + "/" + c.totalVfs()
              + (c.vfsEnabled() ? "" : " (not enabled: gpuvirt vgpu enable " + c.pf() + ")"));
          VgpuTypeCatalogue catalogue = VgpuProvisioner.DEFAULT_CATALOGUES.get(c.id());
          List<Integer> creatable = new ArrayList<>();
          if (c.vfsEnabled() && c.vgpuInterface() == VgpuInterface.VENDOR_SPECIFIC) {
            for (PciAddress vf : c.virtualFunctions()) {
              if (vgpu.currentType(vf) == 0) {
                vgpu.creatable(vf).forEach(e -> creatable.add(e.id()));
                break;
              }
            }
          }
          if (catalogue == null) {
            out.println("  no type catalogue for " + c.id());
            continue;
          }
          for (VgpuType t : catalogue.types()) {
            out.printf("  %-5d %-22s %6d MiB  max %2d  %s%s%n", t.id(), t.name(),
                t.framebufferMib(), t.maxInstances(), t.migBacked() ? "MIG-backed" : "time-sliced",
                creatable.contains(t.id()) ? "  creatable now" : "");
          }
          if (catalogue.inferred()) {
            out.println("  (sizes and counts of this catalogue are inferred)");
          }
        }
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** Which GPUs: one BDF or {@code --all}. */
  static final class Target {
    @Parameters(paramLabel = "BDF", description = "The GPU (physical function).")
    String gpu;

    @Option(names = "--all", required = true, description = "Every vGPU-capable GPU.")
    boolean all;
  }

  /** {@code gpuvirt vgpu enable BDF|--all}. */
  @Command(name = "enable", mixinStandardHelpOptions = true,
      description = {"Enable a GPU's SR-IOV VFs with /usr/lib/nvidia/sriov-manage -e and check "
          + "each has nvidia/. Idempotent. VFs do not survive a reboot: 'gpuvirt doctor' gives "
          + "the systemd unit that enables them at boot."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:enabled", "1:refused (the GPU is passed through whole, not on the "
          + "vGPU driver, or sriov-manage failed)", "2:bad arguments"})
  static final class Enable implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;
    @ArgGroup(exclusive = true, multiplicity = "1") Target target;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (HostContext host = hostOptions.open()) {
        VgpuDevices vgpu = devices(host);
        List<PciAddress> gpus = target.all ? vgpu.capabilities().stream()
            .filter(c -> c.vgpuInterface() == VgpuInterface.VENDOR_SPECIFIC)
            .map(VgpuCapability::pf).toList() : List.of(gpu(target.gpu));
        for (PciAddress pf : gpus) {
          try {
            out.println(pf + ": " + vgpu.enable(pf).size() + " VFs enabled");
          } catch (VgpuException e) {
            out.flush();
            return Cli.refuse(spec.commandLine(), false, e.getMessage());
          }
        }
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt vgpu disable BDF|--all}. */
  @Command(name = "disable", mixinStandardHelpOptions = true,
      description = {"Disable a GPU's SR-IOV VFs with /usr/lib/nvidia/sriov-manage -d; refused "
          + "while a lease holds a vGPU on it."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:disabled", "1:refused (a vGPU is leased, or sriov-manage failed)",
          "2:bad arguments"})
  static final class Disable implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;
    @ArgGroup(exclusive = true, multiplicity = "1") Target target;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (HostContext host = hostOptions.open()) {
        VgpuDevices vgpu = devices(host);
        List<PciAddress> gpus = target.all ? vgpu.capabilities().stream()
            .filter(VgpuCapability::vfsEnabled).map(VgpuCapability::pf).toList()
            : List.of(vgpu.capability(gpu(target.gpu)).pf());
        for (PciAddress pf : gpus) {
          List<String> holders = host.gpuHost().ledger().leases().stream()
              .filter(l -> l.vgpus().stream().anyMatch(v -> v.pf().equals(pf)))
              .map(l -> l.owner()).toList();
          if (!holders.isEmpty()) {
            return Cli.refuse(spec.commandLine(), false, "not disabling the VFs of " + pf
                + ": vGPUs on it are leased to " + holders + "; tear those down first");
          }
          CommandResult r = host.gpuHost().commands().run(io.gpuvirt.core.host.Command.of(
              VgpuDevices.SRIOV_MANAGE,
              "-d", pf.toString()));
          if (!r.succeeded()) {
            return Cli.refuse(spec.commandLine(), false, "'" + String.join(" ", r.argv())
                + "' failed (exit " + r.exitCode() + "): " + (r.stderr() + r.stdout()).strip());
          }
          out.println(pf + ": VFs disabled");
        }
      }
      out.flush();
      return Cli.OK;
    }
  }

  /** {@code gpuvirt vgpu provision --type TYPE --owner ID [--numa N] [--spread]}. */
  @Command(name = "provision", mixinStandardHelpOptions = true,
      description = {"Give the owner one vGPU of TYPE (a numeric id such as 1147, or a name such "
          + "as L40S-1Q) on a VF of a GPU whose VFs are enabled. Idempotent by owner. Packs by "
          + "default: the fullest GPU that can still take the type. Tear down with 'gpuvirt "
          + "teardown --owner ID'."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:provisioned (or already held)", "1:refused (no GPU can take it, or "
          + "the host step failed and was rolled back)", "2:bad arguments"})
  static final class Provision implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;

    @Option(names = "--type", required = true, paramLabel = "TYPE",
        description = "vGPU type id or name.")
    String type;

    @Option(names = "--owner", required = true, paramLabel = "ID",
        converter = Cli.OwnerConverter.class, description = "The owner.")
    String owner;

    @Option(names = "--numa", paramLabel = "N", description = "Only GPUs on this NUMA node.")
    Integer numa;

    @Option(names = "--spread", description = "Put it on the emptiest GPU instead of packing.")
    boolean spread;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (HostContext host = hostOptions.open()) {
        io.gpuvirt.core.vgpu.VgpuRequest request =
            io.gpuvirt.core.vgpu.VgpuRequest.ofType(owner, type);
        if (numa != null) {
          request = request.onNumaNode(numa);
        }
        if (spread) {
          request = request.withFill(io.gpuvirt.core.vgpu.VgpuRequest.Fill.SPREAD);
        }
        io.gpuvirt.core.alloc.Lease lease;
        try {
          lease = VgpuProvisioner.on(devices(host), host.gpuHost().ledger()).provision(request);
        } catch (io.gpuvirt.core.alloc.AllocationRefusedException | VgpuException e) {
          return Cli.refuse(spec.commandLine(), false, e.getMessage());
        }
        io.gpuvirt.core.vgpu.VgpuAssignment v = lease.vgpus().get(0);
        out.println(owner + ": vGPU " + v.type().id() + " (" + v.type().name() + ") on VF "
            + v.vf().orElseThrow() + " of " + v.pf());
        io.gpuvirt.qemu.vgpu.VgpuQemuDevices.plan(lease.vgpus()).devices()
            .forEach(d -> out.println("  qemu: -device " + d.device().render() + "  # "
                + d.explanation()));
      }
      out.flush();
      return Cli.OK;
    }
  }
}
