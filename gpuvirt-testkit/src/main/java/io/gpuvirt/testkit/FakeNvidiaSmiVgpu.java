package io.gpuvirt.testkit;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vgpu.VgpuTypeCatalogue;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * A fake {@code nvidia-smi} for the vGPU host driver's mode of a simulated vGPU host (reference
 * NEXT.md §2): {@code vgpu -shm 0|1 -i <gpu>} sets or clears heterogeneous mode (exit 19 "In use
 * by another client" while a VF carries a type, 3 "Not Supported" on a card without mixed sizes,
 * 6 for a GPU that is not a vGPU GPU with VFs), and {@code -q -i <gpu>} prints the GPU's block with
 * its {@code vGPU Heterogeneous Mode} line. {@code <gpu>} is a PCI address, as {@code 0000:3d:00.0}
 * or nvidia-smi's {@code 00000000:3D:00.0}. The message texts and the position of the mode line
 * in {@code -q} are inferred (no full capture is in the reference). It runs only
 * {@code nvidia-smi}; anything else fails to start.
 *
 * <pre>{@code
 * try (SimulatedHost host = SimulatedHost.l40sVgpu()) {
 *   CommandRunner smi = new FakeNvidiaSmiVgpu(host);
 *   smi.run(Command.of("nvidia-smi", "vgpu", "-shm", "1", "-i", "0000:3d:00.0"));
 * }
 * }</pre>
 */
public final class FakeNvidiaSmiVgpu implements CommandRunner {
  private final SimulatedHost host;

  /** A fake acting on {@code host}. */
  public FakeNvidiaSmiVgpu(SimulatedHost host) {
    this.host = host;
  }

  @Override
  public CommandResult run(Command command) {
    String program = command.program();
    if (!program.substring(program.lastIndexOf('/') + 1).equals("nvidia-smi")) {
      throw new CommandException(command.argv(), "could not start " + program
          + ": no such file (the fake runs only nvidia-smi)", null);
    }
    List<String> args = command.argv().subList(1, command.argv().size());
    try {
      if (args.size() == 5 && args.get(0).equals("vgpu") && args.get(1).equals("-shm")
          && List.of("0", "1").contains(args.get(2)) && args.get(3).equals("-i")) {
        return setMode(command, args.get(4), args.get(2).equals("1"));
      }
      if (args.size() == 3 && args.get(0).equals("-q") && args.get(1).equals("-i")) {
        return query(command, args.get(2));
      }
    } catch (IOException e) {
      throw new GpuvirtException("fake nvidia-smi on " + host.root() + ": " + e, e);
    }
    return result(command, 2, "", "Invalid combination of input arguments. Please run "
        + "'nvidia-smi -h' for help.\n");
  }

  private CommandResult setMode(Command command, String id, boolean on) throws IOException {
    Optional<PciAddress> gpu = gpu(id);
    if (gpu.isEmpty()) {
      return result(command, 6, "", "No GPU with PCI bus id " + id + " was found.\n");
    }
    String bus = busId(gpu.get());
    VgpuModel.ModeChange change = host.kernel().setVgpuHeterogeneous(gpu.get(), on);
    switch (change) {
      case CHANGED:
        return result(command, 0, (on ? "Enabled" : "Disabled")
            + " vGPU heterogeneous mode for GPU " + bus + "\n", "");
      case NOT_SUPPORTED:
        return result(command, 3, "", "Unable to set vGPU heterogeneous mode for GPU " + bus
            + ": Not Supported\n");
      case IN_USE:
        return result(command, 19, "", "Unable to set vGPU heterogeneous mode for GPU " + bus
            + ": In use by another client\n");
      default:
        return result(command, 6, "", "Unable to set vGPU heterogeneous mode for GPU " + bus
            + ": Not Found\n");
    }
  }

  private CommandResult query(Command command, String id) throws IOException {
    Optional<PciAddress> gpu = gpu(id);
    if (gpu.isEmpty()) {
      return result(command, 6, "", "No GPU with PCI bus id " + id + " was found.\n");
    }
    boolean on = host.kernel().vgpuHeterogeneous(gpu.get());
    String out = "\n==============NVSMI LOG==============\n\n"
        + "Driver Version                            : 550.90.05\n"
        + "Attached GPUs                             : 1\n"
        + "GPU " + busId(gpu.get()) + "\n"
        + "    Product Name                          : " + productName(gpu.get()) + "\n"
        + "    vGPU Device Capability\n"
        + "        Heterogenous Multi-vGPU           : Supported\n"
        + "    vGPU Heterogeneous Mode               : " + (on ? "Enabled" : "Disabled") + "\n";
    return result(command, 0, out, "");
  }

  /** An NVIDIA GPU of the host named by {@code id}, if there is one. */
  private Optional<PciAddress> gpu(String id) {
    String text = id.toLowerCase(Locale.ROOT);
    if (text.matches("[0-9a-f]{8}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]")) {
      text = text.substring(4);
    }
    if (!PciAddress.isValid(text)) {
      return Optional.empty();
    }
    PciAddress a = PciAddress.parse(text);
    return host.profile().device(a).filter(d -> d.id().vendor() == 0x10de).map(d -> a);
  }

  private String productName(PciAddress a) {
    PciId id = host.profile().device(a).orElseThrow().id();
    VgpuTypeCatalogue catalogue = VgpuProvisioner.DEFAULT_CATALOGUES.get(id);
    return catalogue == null ? "NVIDIA Device " + id : catalogue.card();
  }

  private static String busId(PciAddress a) {
    return ("0000" + a).toUpperCase(Locale.ROOT);
  }

  private static CommandResult result(Command command, int exit, String stdout, String stderr) {
    return new CommandResult(command.argv(), exit, stdout, stderr, Duration.ofMillis(1), false);
  }
}
