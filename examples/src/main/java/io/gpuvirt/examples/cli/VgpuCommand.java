package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.ledger.LeaseJson;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.vgpu.VgpuAssignment;
import io.gpuvirt.core.vgpu.VgpuCapability;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuException;
import io.gpuvirt.core.vgpu.VgpuInterface;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuRequest;
import io.gpuvirt.core.vgpu.VgpuType;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import io.gpuvirt.qemu.vgpu.VgpuQemuDevices;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

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

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Prints {@code node} as one pretty JSON document. */
  static void printJson(PrintWriter out, JsonNode node) {
    out.println(node.toPrettyString());
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

    @Option(names = "--json", description = "Print the GPUs and their types as a JSON array.")
    boolean json;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (HostContext host = hostOptions.open()) {
        VgpuDevices vgpu = devices(host);
        List<VgpuCapability> gpus = gpu == null ? vgpu.capabilities()
            : List.of(vgpu.capability(gpu(gpu)));
        if (json) {
          printJson(out, typesJson(vgpu, gpus));
          out.flush();
          return Cli.OK;
        }
        if (gpus.isEmpty()) {
          out.println("no GPU with vGPU support on " + host.describe());
        }
        for (VgpuCapability c : gpus) {
          out.println(c.pf() + " [" + c.id() + "] NUMA " + c.numaNode() + ", "
              + (c.vgpuInterface() == VgpuInterface.VENDOR_SPECIFIC
                  ? "vendor-specific, VFs " + c.virtualFunctions().size() + "/" + c.totalVfs()
                      + (c.vfsEnabled() ? ", " + mode(vgpu, c) + " mode"
                          : " (not enabled: gpuvirt vgpu enable " + c.pf() + ")")
                  : "legacy mdev, " + vgpu.mdevs(c.pf()).size() + " mediated devices"));
          VgpuTypeCatalogue catalogue = VgpuProvisioner.DEFAULT_CATALOGUES.get(c.id());
          List<Integer> creatable = creatableNow(vgpu, c);
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

    private static ArrayNode typesJson(VgpuDevices vgpu, List<VgpuCapability> gpus) {
      ArrayNode array = JSON.createArrayNode();
      for (VgpuCapability c : gpus) {
        ObjectNode g = array.addObject();
        g.put("pf", c.pf().toString());
        g.put("id", c.id().toString());
        g.put("numaNode", c.numaNode());
        g.put("interface", c.vgpuInterface().name().toLowerCase(java.util.Locale.ROOT));
        g.put("vfs", c.virtualFunctions().size());
        g.put("totalVfs", c.totalVfs());
        g.put("vfsEnabled", c.vfsEnabled());
        if (c.vfsEnabled() && c.vgpuInterface() == VgpuInterface.VENDOR_SPECIFIC) {
          g.put("mode", mode(vgpu, c));
        }
        if (c.vgpuInterface() == VgpuInterface.LEGACY_MDEV) {
          ArrayNode mdevs = g.putArray("mdevs");
          vgpu.mdevs(c.pf()).forEach((uuid, type) ->
              mdevs.addObject().put("uuid", uuid.toString()).put("type", type));
        }
        VgpuTypeCatalogue catalogue = VgpuProvisioner.DEFAULT_CATALOGUES.get(c.id());
        List<Integer> creatable = creatableNow(vgpu, c);
        ArrayNode types = g.putArray("types");
        if (catalogue != null) {
          g.put("catalogueInferred", catalogue.inferred());
          for (VgpuType t : catalogue.types()) {
            ObjectNode n = types.addObject();
            n.put("id", t.id());
            n.put("name", t.name());
            n.put("framebufferMib", t.framebufferMib());
            n.put("maxInstances", t.maxInstances());
            n.put("migBacked", t.migBacked());
            n.put("creatableNow", creatable.contains(t.id()));
          }
        }
      }
      return array;
    }
  }

  /** The GPU's vGPU mode in lower case, "unknown" when nvidia-smi cannot tell. */
  static String mode(VgpuDevices vgpu, VgpuCapability c) {
    try {
      return vgpu.mode(c.pf()).name().toLowerCase(java.util.Locale.ROOT);
    } catch (GpuvirtException e) {
      return "unknown";
    }
  }

  /**
   * The type ids {@code c} can take now: a free VF's creatable types (none when its VFs are not
   * enabled), or the mdev types with an instance available.
   */
  static List<Integer> creatableNow(VgpuDevices vgpu, VgpuCapability c) {
    List<Integer> creatable = new ArrayList<>();
    if (c.vgpuInterface() == VgpuInterface.LEGACY_MDEV) {
      vgpu.mdevTypes(c.pf()).stream().filter(t -> t.availableInstances() > 0)
          .forEach(t -> creatable.add(t.id()));
    }
    if (c.vfsEnabled() && c.vgpuInterface() == VgpuInterface.VENDOR_SPECIFIC) {
      for (PciAddress vf : c.virtualFunctions()) {
        if (vgpu.currentType(vf) == 0) {
          vgpu.creatable(vf).forEach(e -> creatable.add(e.id()));
          break;
        }
      }
    }
    return creatable;
  }

  /** Which GPUs: one BDF or {@code --all}. */
  static final class Target {
    @Parameters(paramLabel = "BDF", description = "The GPU (physical function).")
    String gpu;

    @Option(names = "--all", required = true, description = "Every vGPU-capable GPU.")
    boolean all;
  }

  /** {@code gpuvirt vgpu enable BDF|--all [--heterogeneous]}. */
  @Command(name = "enable", mixinStandardHelpOptions = true,
      description = {"Enable a GPU's SR-IOV VFs with /usr/lib/nvidia/sriov-manage -e and check "
          + "each has nvidia/. Idempotent. VFs do not survive a reboot: 'gpuvirt doctor' gives "
          + "the systemd unit that enables them at boot.",
          "With --heterogeneous, then put the GPU in heterogeneous mode (nvidia-smi vgpu -shm 1) "
              + "so it holds vGPUs of different sizes; only before its first vGPU, and only on "
              + "cards that support it (with --all, the others stay homogeneous)."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:enabled", "1:refused (the GPU is passed through whole, not on the "
          + "vGPU driver, or sriov-manage failed)", "2:bad arguments"})
  static final class Enable implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin HostOptions hostOptions;
    @ArgGroup(exclusive = true, multiplicity = "1") Target target;

    @Option(names = "--heterogeneous",
        description = "Also set heterogeneous (mixed-size) mode before the first vGPU.")
    boolean heterogeneous;

    @Option(names = "--json", description = "Print {enabled: [{pf, vfs, mode}]}.")
    boolean json;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (HostContext host = hostOptions.open()) {
        VgpuDevices vgpu = devices(host);
        Map<PciAddress, Boolean> mixedSizes = new HashMap<>();
        if (heterogeneous && target.all) {
          vgpu.capabilities().forEach(c -> mixedSizes.put(c.pf(), Optional.ofNullable(
              VgpuProvisioner.DEFAULT_CATALOGUES.get(c.id())).map(VgpuTypeCatalogue::mixedSizes)
              .orElse(false)));
        }
        List<PciAddress> gpus = target.all ? vgpu.capabilities().stream()
            .filter(c -> c.vgpuInterface() == VgpuInterface.VENDOR_SPECIFIC)
            .map(VgpuCapability::pf).toList() : List.of(gpu(target.gpu));
        ObjectNode result = JSON.createObjectNode();
        ArrayNode enabled = result.putArray("enabled");
        for (PciAddress pf : gpus) {
          try {
            int vfs = vgpu.enable(pf).size();
            boolean mixed = heterogeneous && (!target.all || mixedSizes.getOrDefault(pf, false));
            if (mixed) {
              vgpu.setHeterogeneous(pf);
            }
            String mode = mixed ? "heterogeneous" : heterogeneous ? "homogeneous (the card "
                + "does not support mixed sizes)" : "";
            enabled.addObject().put("pf", pf.toString()).put("vfs", vfs)
                .put("mode", mixed ? "heterogeneous" : heterogeneous ? "homogeneous" : "unchanged");
            if (!json) {
              out.println(pf + ": " + vfs + " VFs enabled" + (mode.isEmpty() ? "" : ", " + mode));
            }
          } catch (VgpuException e) {
            out.flush();
            return Cli.refuse(spec.commandLine(), json, e.getMessage());
          }
        }
        if (json) {
          printJson(out, result);
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

    @Option(names = "--json", description = "Print {disabled: [pf]}.")
    boolean json;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (HostContext host = hostOptions.open()) {
        VgpuDevices vgpu = devices(host);
        List<PciAddress> gpus = target.all ? vgpu.capabilities().stream()
            .filter(VgpuCapability::vfsEnabled).map(VgpuCapability::pf).toList()
            : List.of(vgpu.capability(gpu(target.gpu)).pf());
        ObjectNode result = JSON.createObjectNode();
        ArrayNode disabled = result.putArray("disabled");
        for (PciAddress pf : gpus) {
          List<String> holders = host.gpuHost().ledger().leases().stream()
              .filter(l -> l.vgpus().stream().anyMatch(v -> v.pf().equals(pf)))
              .map(l -> l.owner()).toList();
          if (!holders.isEmpty()) {
            return Cli.refuse(spec.commandLine(), json, "not disabling the VFs of " + pf
                + ": vGPUs on it are leased to " + holders + "; tear those down first");
          }
          try {
            vgpu.disable(pf);
          } catch (VgpuException e) {
            return Cli.refuse(spec.commandLine(), json, e.getMessage());
          }
          disabled.add(pf.toString());
          if (!json) {
            out.println(pf + ": VFs disabled");
          }
        }
        if (json) {
          printJson(out, result);
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

    @Option(names = "--count", paramLabel = "N", defaultValue = "1",
        description = "How many vGPUs, each on another GPU (default ${DEFAULT-VALUE}); on a host "
            + "whose Fabric Manager runs in vGPU mode their GPUs form one partition, the VM's "
            + "alone (vGPUs that talk peer-to-peer must be in one VM).")
    int count;

    @Option(names = "--json", description = "Print {lease, qemu: [devices]}.")
    boolean json;

    @Override
    public Integer call() {
      return provisionVgpu(spec.commandLine(), hostOptions, owner, type, numa, spread, count,
          json);
    }
  }

  /**
   * {@code count} vGPUs of {@code type} for {@code owner}: the lease, its VFs (and partition on a
   * host in Fabric Manager vGPU mode) and QEMU devices (shared by {@code vgpu provision} and
   * {@code provision --vgpu}).
   */
  static int provisionVgpu(CommandLine cmd, HostOptions hostOptions, String owner, String type,
      Integer numa, boolean spread, int count, boolean json) {
    PrintWriter out = cmd.getOut();
    try (HostContext host = hostOptions.open()) {
      VgpuRequest request = VgpuRequest.ofType(owner, type).withCount(count);
      if (numa != null) {
        request = request.onNumaNode(numa);
      }
      if (spread) {
        request = request.withFill(VgpuRequest.Fill.SPREAD);
      }
      Lease lease;
      try {
        lease = host.gpuHost().vgpuProvisioner().provision(request);
      } catch (AllocationRefusedException | VgpuException e) {
        return Cli.refuse(cmd, json, e.getMessage());
      }
      VgpuQemuDevices.Plan qemu = VgpuQemuDevices.plan(lease.vgpus());
      if (json) {
        try {
          ObjectNode result = JSON.createObjectNode();
          result.set("lease", JSON.readTree(LeaseJson.of(lease)));
          ArrayNode devices = result.putArray("qemu");
          qemu.argv().forEach(devices::add);
          printJson(out, result);
        } catch (JsonProcessingException e) {
          throw new GpuvirtException("cannot render JSON output: " + e.getMessage(), e);
        }
      } else {
        for (VgpuAssignment v : lease.vgpus()) {
          out.println(owner + ": vGPU " + v.type().id() + " (" + v.type().name() + ") on "
              + v.vf().map(vf -> "VF " + vf).orElseGet(() -> "mediated device "
                  + v.mdev().orElseThrow()) + " of " + v.pf());
        }
        lease.partitionId().ifPresent(id -> out.println("  Fabric Manager partition " + id
            + " activated with the VFs (vGPU mode)"));
        qemu.devices().forEach(d -> out.println("  qemu: -device " + d.device().render() + "  # "
            + d.explanation()));
        qemu.uuid().ifPresent(u -> out.println("  qemu: -uuid " + u));
      }
    }
    out.flush();
    return Cli.OK;
  }
}
