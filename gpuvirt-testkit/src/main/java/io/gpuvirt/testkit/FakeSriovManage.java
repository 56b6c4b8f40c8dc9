package io.gpuvirt.testkit;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A fake {@code /usr/lib/nvidia/sriov-manage} for the {@link CommandRunner} seam:
 * {@code -e <PF>|ALL} enables all of a GPU's VFs and {@code -d <PF>|ALL} disables them, by
 * writing {@code sriov_numvfs} of the simulated host, whose kernel model then creates the VFs (and,
 * on a vGPU host, their {@code nvidia/} directories). Enabling a GPU whose VFs are enabled already
 * does nothing. A failing write makes it exit 1 with the kernel's reason on stderr. It runs only
 * programs whose file name is {@code sriov-manage}; anything else fails to start.
 *
 * <pre>{@code
 * try (SimulatedHost host = SimulatedHost.l40sVgpu()) {
 *   CommandRunner commands = new FakeSriovManage(host.sysfs());
 *   commands.run(Command.of("/usr/lib/nvidia/sriov-manage", "-e", "0000:3d:00.0"));
 * }
 * }</pre>
 */
public final class FakeSriovManage implements CommandRunner {
  private final Sysfs sysfs;
  private final Optional<String> failure;

  /** A fake acting on the host behind {@code sysfs}. */
  public FakeSriovManage(Sysfs sysfs) {
    this(sysfs, Optional.empty());
  }

  private FakeSriovManage(Sysfs sysfs, Optional<String> failure) {
    this.sysfs = sysfs;
    this.failure = failure;
  }

  /** A copy that changes nothing and exits 1 printing {@code stderr}, as a broken driver does. */
  public FakeSriovManage failing(String stderr) {
    return new FakeSriovManage(sysfs, Optional.of(stderr));
  }

  @Override
  public CommandResult run(Command command) {
    String program = command.program();
    if (!program.substring(program.lastIndexOf('/') + 1).equals("sriov-manage")) {
      throw new CommandException(command.argv(), "could not start " + program
          + ": no such file (the fake runs only sriov-manage)", null);
    }
    List<String> args = command.argv().subList(1, command.argv().size());
    if (args.size() != 2 || !List.of("-e", "-d").contains(args.get(0))
        || !args.get(1).equals("ALL") && !PciAddress.isValid(args.get(1))) {
      return result(command, 1, "", "Usage: sriov-manage <-e|-d> <ssss:bb:dd.f|ALL>\n");
    }
    if (failure.isPresent()) {
      return result(command, 1, "", failure.get());
    }
    boolean enable = args.get(0).equals("-e");
    List<PciAddress> pfs = args.get(1).equals("ALL") ? nvidiaPfs()
        : List.of(PciAddress.parse(args.get(1)));
    StringBuilder out = new StringBuilder();
    for (PciAddress pf : pfs) {
      String dir = "/sys/bus/pci/devices/" + pf;
      if (!sysfs.exists(dir + "/sriov_totalvfs")) {
        return result(command, 1, out.toString(), "Device " + pf + " does not support SR-IOV\n");
      }
      String current = sysfs.read(dir + "/sriov_numvfs").strip();
      if (enable && !current.equals("0")) {
        continue;
      }
      out.append(enable ? "Enabling" : "Disabling").append(" VFs on ").append(pf).append('\n');
      try {
        sysfs.write(dir + "/sriov_numvfs",
            enable ? sysfs.read(dir + "/sriov_totalvfs").strip() : "0");
      } catch (HostAccessException e) {
        return result(command, 1, out.toString(), "Cannot " + (enable ? "enable" : "disable")
            + " VFs on " + pf + ": " + e.getCause().getMessage() + "\n");
      }
    }
    return result(command, 0, out.toString(), "");
  }

  private List<PciAddress> nvidiaPfs() {
    List<PciAddress> out = new ArrayList<>();
    for (String name : sysfs.list("/sys/bus/pci/devices")) {
      String dir = "/sys/bus/pci/devices/" + name;
      if (sysfs.read(dir + "/vendor").strip().equals("0x10de")
          && sysfs.exists(dir + "/sriov_totalvfs")) {
        out.add(PciAddress.parse(name));
      }
    }
    return out;
  }

  private static CommandResult result(Command command, int exit, String stdout, String stderr) {
    return new CommandResult(command.argv(), exit, stdout, stderr, Duration.ofMillis(1), false);
  }
}
