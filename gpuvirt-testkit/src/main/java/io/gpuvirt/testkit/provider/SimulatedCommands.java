package io.gpuvirt.testkit.provider;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.util.Optional;

/**
 * The programs of a simulated host: {@code nvidia-smi} (the GPUs on the nvidia driver, as the real
 * one lists them) and {@code fmpm}, both of its simulated Fabric Manager; on a host with SR-IOV
 * NVIDIA GPUs, {@code nvidia-smi}'s vGPU mode ({@code FakeNvidiaSmiVgpu}); on a host with
 * NVIDIA GPUs, {@code nvidia-smi}'s MIG commands ({@code FakeNvidiaSmiMig}); and
 * {@code sriov-manage}. Any other program, and
 * both on a host without Fabric Manager, cannot be started, as on a host without them.
 */
final class SimulatedCommands implements CommandRunner {
  private final SimulatedHost host;

  SimulatedCommands(SimulatedHost host) {
    this.host = host;
  }

  @Override
  public CommandResult run(Command command) {
    String program = command.program();
    String name = program.substring(program.lastIndexOf('/') + 1);
    if (name.equals("sriov-manage")) {
      return new io.gpuvirt.testkit.FakeSriovManage(host.sysfs()).run(command);
    }
    if (name.equals("nvidia-smi") && io.gpuvirt.testkit.FakeNvidiaSmiMig.handles(
        command.argv().subList(1, command.argv().size()))
        && io.gpuvirt.testkit.FakeNvidiaSmiMig.hasNvidiaGpus(host)) {
      return new io.gpuvirt.testkit.FakeNvidiaSmiMig(host).run(command);
    }
    Optional<SimulatedFabric> fabric = name.equals("nvidia-smi") || name.equals("fmpm")
        ? SimulatedFabric.ofHost(host) : Optional.empty();
    if (name.equals("nvidia-smi") && (fabric.isEmpty() || command.argv().contains("vgpu"))
        && host.profile().devices().stream().anyMatch(d -> d.sriov().isPresent()
            && d.id().vendor() == 0x10de)) {
      return new io.gpuvirt.testkit.FakeNvidiaSmiVgpu(host).run(command);
    }
    if (fabric.isEmpty()) {
      throw new CommandException(command.argv(), "could not start " + program + ": no such file"
          + " on simulated host " + host.profile().name() + " at " + host.root()
          + (name.equals("nvidia-smi") || name.equals("fmpm")
              ? " (it has no Fabric Manager in shared NVSwitch mode)" : ""), null);
    }
    return name.equals("fmpm") ? fabric.get().fmpm().run(command)
        : SimulatedFabricProvider.nvidiaSmi(host, fabric.get()).run(command);
  }
}
