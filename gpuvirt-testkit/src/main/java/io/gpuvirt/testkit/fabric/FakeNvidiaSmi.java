package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.function.Supplier;

/**
 * A fake {@code nvidia-smi -q} for the {@link CommandRunner} seam: the GPU sections of the real
 * report (abridged), in PCI order, each with its module id in the old top-level line or the 580
 * {@code Platform Info} block, and the {@code Bus Id} with its 8-digit domain.
 *
 * <p>The GPUs are asked for at every run, so a simulated host can list only the GPUs that are on
 * the nvidia driver right now (nvidia-smi does not see GPUs on vfio-pci). It runs any program whose
 * file name is {@code nvidia-smi}; anything else fails to start.
 */
public final class FakeNvidiaSmi implements CommandRunner {
  private final Supplier<List<SimulatedGpu>> gpus;
  private final String driverVersion;
  private final NvidiaSmiFormat format;

  /**
   * A fake that lists what {@code gpus} returns at each run.
   *
   * @param gpus the GPUs on the nvidia driver
   * @param driverVersion what it prints as Driver Version ({@code 580.95.05})
   * @param format where it prints module ids
   */
  public FakeNvidiaSmi(Supplier<List<SimulatedGpu>> gpus, String driverVersion,
      NvidiaSmiFormat format) {
    this.gpus = gpus;
    this.driverVersion = driverVersion;
    this.format = format;
  }

  /** The same GPUs printed in another format. */
  public FakeNvidiaSmi withFormat(NvidiaSmiFormat newFormat) {
    return new FakeNvidiaSmi(gpus, driverVersion, newFormat);
  }

  @Override
  public CommandResult run(Command command) {
    String program = command.program();
    if (!program.substring(program.lastIndexOf('/') + 1).equals("nvidia-smi")) {
      throw new CommandException(command.argv(), "could not start " + program
          + ": no such file (the fake runs only nvidia-smi)", null);
    }
    List<String> args = command.argv().subList(1, command.argv().size());
    if (!args.equals(List.of("-q"))) {
      return new CommandResult(command.argv(), 2, "", "Invalid combination of input arguments. "
          + "Please run 'nvidia-smi -h' for help.\n", Duration.ofMillis(1), false);
    }
    return new CommandResult(command.argv(), 0, report(), "", Duration.ofMillis(1), false);
  }

  /** The text {@code nvidia-smi -q} prints. */
  public String report() {
    List<SimulatedGpu> list = gpus.get().stream()
        .sorted(Comparator.comparing(SimulatedGpu::address)).toList();
    StringBuilder out = new StringBuilder();
    out.append("\n==============NVSMI LOG==============\n\n");
    line(out, "", "Timestamp", "Sat Nov 21 05:21:53 2026");
    line(out, "", "Driver Version", driverVersion);
    line(out, "", "CUDA Version", "13.0");
    out.append('\n');
    line(out, "", "Attached GPUs", Integer.toString(list.size()));
    int minor = 0;
    for (SimulatedGpu g : list) {
      String bus = String.format("%08X:%02X:%02X.%d", g.address().domain(), g.address().bus(),
          g.address().device(), g.address().function());
      out.append("GPU ").append(bus).append('\n');
      line(out, "    ", "Product Name", g.productName());
      line(out, "    ", "Product Brand", "NVIDIA");
      line(out, "    ", "Display Mode", "Disabled");
      line(out, "    ", "Persistence Mode", "Enabled");
      out.append("    MIG Mode\n");
      line(out, "        ", "Current", "Disabled");
      line(out, "        ", "Pending", "Disabled");
      line(out, "    ", "Serial Number", String.format("16523240%05d", g.moduleId()));
      line(out, "    ", "GPU UUID", g.uuid());
      line(out, "    ", "Minor Number", Integer.toString(minor++));
      line(out, "    ", "VBIOS Version", "97.00.A5.00.02");
      if (format == NvidiaSmiFormat.MODULE_ID_LINE) {
        line(out, "    ", "Module ID", Integer.toString(g.moduleId()));
      }
      out.append("    Fabric\n");
      line(out, "        ", "State", "Completed");
      line(out, "        ", "Status", "Success");
      out.append("    PCI\n");
      line(out, "        ", "Bus", String.format("0x%02X", g.address().bus()));
      line(out, "        ", "Device", String.format("0x%02X", g.address().device()));
      line(out, "        ", "Domain", String.format("0x%04X", g.address().domain()));
      line(out, "        ", "Device Id", String.format("0x%04X10DE", g.pciDeviceId()));
      line(out, "        ", "Bus Id", bus);
      line(out, "        ", "Sub System Id", "0x199910DE");
      out.append("        GPU Link Info\n");
      out.append("            PCIe Generation\n");
      line(out, "                ", "Max", "5");
      line(out, "                ", "Current", "5");
      if (format == NvidiaSmiFormat.PLATFORM_INFO) {
        out.append("    Platform Info\n");
        line(out, "        ", "Chassis Serial Number", "1823825185529");
        line(out, "        ", "Slot Number", "0");
        line(out, "        ", "Tray Index", "0");
        line(out, "        ", "Host ID", "1");
        line(out, "        ", "Peer Type", "Switch Connected");
        line(out, "        ", "Module Id", Integer.toString(g.moduleId()));
        line(out, "        ", "GPU Fabric GUID", String.format("0x%016x",
            0x21ac5b6a528f7c00L + g.moduleId()));
      }
      out.append('\n');
    }
    return out.toString();
  }

  private static void line(StringBuilder out, String indent, String key, String value) {
    StringBuilder k = new StringBuilder(indent).append(key);
    while (k.length() < 42) {
      k.append(' ');
    }
    out.append(k).append(": ").append(value).append('\n');
  }
}
