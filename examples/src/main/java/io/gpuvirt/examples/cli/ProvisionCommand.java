package io.gpuvirt.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRefusedException;
import io.gpuvirt.core.alloc.AllocationRequest;
import io.gpuvirt.core.alloc.DeviceSelector;
import io.gpuvirt.core.ledger.LeaseJson;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.Provisioned;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.provision.ProvisioningException;
import io.gpuvirt.core.vfio.VfioGroupNode;
import io.gpuvirt.qemu.command.Decision;
import io.gpuvirt.qemu.command.QemuArgs;
import io.gpuvirt.qemu.libvirt.LibvirtPlan;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gpuvirt provision --gpus N --owner ID}: the main job. Allocates (a whole Fabric Manager
 * partition on a shared NVSwitch host, else whole IOMMU groups), resets, activates, binds to
 * vfio-pci, verifies, commits the lease, and prints the QEMU command line. With no --root it works
 * on a simulated HGX B200 kept in the temp directory, written fresh the first time.
 */
@Command(name = "provision", mixinStandardHelpOptions = true,
    description = {"Provision GPUs for a VM and print the QEMU command line.",
        "Allocate -> reset -> activate the partition (shared NVSwitch hosts) -> bind to vfio-pci"
            + " -> verify -> commit; any failure rolls back. Without --root it uses a simulated"
            + " HGX B200 in the temp directory (written fresh the first time)."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:provisioned (or already provisioned)",
        "1:refused: no capacity (what is free is on stderr), or a step failed and was rolled back",
        "2:error"})
final class ProvisionCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  /** What to provision: whole GPUs, or one vGPU. */
  static final class What {
    @Option(names = "--gpus", required = true, paramLabel = "N", description = "How many GPUs.")
    Integer gpus;

    @Option(names = "--vgpu", required = true, paramLabel = "TYPE",
        description = "One vGPU of this type (an id such as 1147 or a name such as L40S-1Q) on a"
            + " VF, instead of whole GPUs; as 'gpuvirt vgpu provision'.")
    String vgpu;

    @Option(names = "--mig", required = true, paramLabel = "PROFILE",
        description = "One MIG GPU instance of this profile (such as 3g.90gb) on the GPU where it"
            + " fits best (MIG on, through nvidia-smi), instead of whole GPUs.")
    String mig;
  }

  @ArgGroup(exclusive = true, multiplicity = "1") What what;

  @Option(names = "--count", paramLabel = "N",
      description = "With --vgpu: that many vGPUs, each on another GPU (default 1); on a host whose"
          + " Fabric Manager runs in vGPU mode their GPUs form one partition, the VM's alone.")
  Integer count;

  @Option(names = "--owner", required = true, paramLabel = "ID",
      converter = Cli.OwnerConverter.class, description = "The VM (lease owner), e.g. vm-42.")
  String owner;

  @Option(names = "--device", paramLabel = "SELECTOR", defaultValue = "gpu",
      description = "Which devices: gpu, 10de:2901, class:0302 or BDF,BDF (default: ${DEFAULT-VALUE}).")
  String device;

  @Option(names = "--allow", paramLabel = "BDF",
      description = "An endpoint that may come along in a requested device's IOMMU group although"
          + " it is not requested (a NIC behind a switch without ACS); repeatable.")
  List<String> allow = new ArrayList<>();

  @Mixin HostOptions host;

  @Option(names = "--no-reset", description = "Do not function-reset the GPUs before binding.")
  boolean noReset;

  @Option(names = "--json", description = "Print the result as JSON (as --format json).")
  boolean json;

  @Option(names = "--format", paramLabel = "text|json|libvirt", defaultValue = "text",
      description = "text: the lease, steps, QEMU command and plan (default); json: the same as"
          + " JSON; libvirt: only the libvirt domain XML, rendered before the host is changed.")
  String format;

  @Mixin QemuOptions qemu;

  private int provisionMig(PrintWriter out, boolean asJson) {
    try (HostContext context = host.open()) {
      io.gpuvirt.core.alloc.Lease lease;
      try {
        lease = io.gpuvirt.core.mig.MigProvisioner.on(MigCommand.backend(context),
            context.gpuHost().ledger()).provision(owner, what.mig);
      } catch (io.gpuvirt.core.alloc.AllocationRefusedException
          | io.gpuvirt.core.mig.MigBackendException e) {
        return Cli.refuse(spec.commandLine(), asJson, e.getMessage());
      }
      if (asJson) {
        out.print(LeaseText.pretty(io.gpuvirt.core.ledger.LeaseJson.of(lease)));
      } else {
        out.println("provisioned " + owner + ": MIG " + lease.migs().get(0));
        lease.reasons().forEach(r -> out.println("  " + r));
      }
      out.flush();
      return Cli.OK;
    }
  }

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (!List.of("text", "json", "libvirt").contains(format)) {
      throw new InvalidValueException("--format '" + Cli.printable(format)
          + "' is not text, json or libvirt");
    }
    boolean libvirt = format.equals("libvirt");
    boolean asJson = json || format.equals("json");
    if (libvirt && json) {
      throw new InvalidValueException("--json and --format libvirt are two outputs; choose one");
    }
    if (what.vgpu != null) {
      if (libvirt) {
        throw new InvalidValueException("--format libvirt renders a whole-GPU VM plan; for a vGPU"
            + " use --format text or json (the library renders a vGPU domain with"
            + " LibvirtDomain.Builder.vgpus)");
      }
      return VgpuCommand.provisionVgpu(spec.commandLine(), host, owner, what.vgpu, null, false,
          count == null ? 1 : count, asJson);
    }
    if (count != null) {
      throw new InvalidValueException("--count goes with --vgpu (how many vGPUs); for whole GPUs"
          + " use --gpus N");
    }
    if (what.mig != null) {
      if (libvirt) {
        throw new InvalidValueException("--format libvirt renders a whole-GPU VM plan; a MIG"
            + " instance has no PCI device of its own to render");
      }
      return provisionMig(out, asJson);
    }
    int gpus = what.gpus;
    AllocationRequest.Builder requestBuilder = AllocationRequest.builder(owner).count(gpus)
        .selector(DeviceSelector.parse(device));
    allow.forEach(a -> requestBuilder.allowForeign(PciAddress.parse(a)));
    AllocationRequest request = requestBuilder.build();
    qemu.hostArchitecture(host.architecture());
    qemu.capabilities(); // a bad --qemu or --qemu-version fails before the host is touched
    try (HostContext context = host.openOrCreateDemo()) {
      List<ProgressEvent> events = new ArrayList<>();
      // The provisioner plans the QEMU command before it changes the host, and rolls back itself
      // when the command cannot be built.
      Provisioner provisioner = context.gpuHost().provisionerBuilder()
          .vmPlanner(libvirt ? qemu.libvirtPlanner() : qemu.planner())
          .resetBeforeBind(!noReset).listener(events::add).build();
      provisioner.recover();
      Provisioned result;
      try {
        result = provisioner.provision(request);
      } catch (AllocationRefusedException | ProvisioningException
          | io.gpuvirt.core.vfio.GroupRefusedException e) {
        return Cli.refuse(spec.commandLine(), asJson, e.getMessage());
      }
      if (libvirt) {
        out.print(((LibvirtPlan) result.plan().orElseThrow()).domain().xml());
        out.flush();
        return Cli.OK;
      }
      QemuArgs args = (QemuArgs) result.plan().orElseThrow();
      if (asJson) {
        out.println(json(context, provisioner, result, events, args));
      } else {
        out.print(text(context, provisioner, result, events, args));
      }
      out.flush();
      return Cli.OK;
    }
  }

  private String text(HostContext context, Provisioner provisioner, Provisioned result,
      List<ProgressEvent> events, QemuArgs args) {
    StringBuilder s = new StringBuilder();
    s.append("host:  ").append(context.describe()).append('\n');
    s.append("state: ").append(context.stateDirectory()).append('\n');
    s.append("mode:  ").append(provisioner.partitionMode()
        ? "shared NVSwitch (Fabric Manager partitions, GPUs mapped by module id)"
        : "IOMMU groups (no Fabric Manager partitions)").append('\n');
    if (result.alreadyProvisioned()) {
      s.append("\n").append(owner).append(" was already provisioned; nothing changed\n");
    }
    s.append("\nlease:\n").append(LeaseText.describe(result.lease(), context.names()));
    if (!events.isEmpty()) {
      s.append("\nsteps:\n");
      events.stream().filter(e -> e.kind() != ProgressEvent.Kind.STARTED)
          .forEach(e -> s.append("  ").append(e).append('\n'));
    }
    s.append("\nVFIO device nodes:\n");
    for (VfioGroupNode n : result.vfioGroups()) {
      s.append("  group ").append(n.iommuGroup()).append(": ").append(n.groupNode());
      n.deviceNodes().forEach(d -> s.append(' ').append(d));
      s.append('\n');
    }
    s.append("\nQEMU command (").append(qemu.source).append("; gpuvirt qemu-args --owner ")
        .append(owner).append(host.rootArgument()).append(" --format shell prints it alone):\n");
    s.append(args.toShell());
    s.append("\nplan:\n");
    for (Decision d : args.plan()) {
      s.append("  ").append(d).append('\n');
    }
    s.append("\nteardown: gpuvirt teardown --owner ").append(owner)
        .append(host.rootArgument()).append('\n');
    return s.toString();
  }

  private String json(HostContext context, Provisioner provisioner, Provisioned result,
      List<ProgressEvent> events, QemuArgs args) {
    ObjectMapper mapper = new ObjectMapper();
    try {
      ObjectNode node = mapper.createObjectNode();
      node.put("host", context.root().toString());
      node.put("simulated", context.simulated());
      node.put("stateDirectory", context.stateDirectory().toString());
      node.put("partitionMode", provisioner.partitionMode());
      node.put("alreadyProvisioned", result.alreadyProvisioned());
      node.set("lease", mapper.readTree(LeaseJson.of(result.lease())));
      ArrayNode groups = node.putArray("vfioGroups");
      for (VfioGroupNode n : result.vfioGroups()) {
        ObjectNode g = groups.addObject();
        g.put("group", n.iommuGroup());
        g.put("node", n.groupNode());
        n.deviceNodes().forEach(g.putArray("deviceNodes")::add);
      }
      ArrayNode steps = node.putArray("steps");
      for (ProgressEvent e : events) {
        ObjectNode step = steps.addObject();
        step.put("step", e.step().name());
        step.put("kind", e.kind().name());
        e.device().ifPresent(d -> step.put("device", d.toString()));
        step.put("detail", e.detail());
        step.put("millis", e.elapsed().toMillis());
      }
      node.put("qemuSource", qemu.source);
      node.set("qemu", mapper.readTree(args.toJson()));
      return node.toPrettyString();
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new io.gpuvirt.core.GpuvirtException("cannot render JSON output: " + e.getMessage(),
          e);
    }
  }
}
