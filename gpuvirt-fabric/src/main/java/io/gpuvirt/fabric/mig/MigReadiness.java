package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.doctor.Finding;
import io.gpuvirt.core.doctor.Fix;
import io.gpuvirt.core.doctor.Severity;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigGpu;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The doctor's MIG checks: a MIG mode change that waits for a GPU reset or reboot (until then the
 * GPU keeps its old mode and no instance can be created), and a summary of the modes.
 */
public final class MigReadiness {
  private MigReadiness() {}

  /**
   * The findings for the GPUs {@code backend} controls: a warning per GPU with a pending mode
   * change (the fix: reset it, or reboot where a reset is not supported, as in a VM), else one
   * line with every GPU's mode. Where the backend cannot run (no {@code nvidia-smi}), one
   * information line says MIG was not checked.
   */
  public static List<Finding> check(MigBackend backend) {
    List<MigGpu> gpus;
    try {
      gpus = backend.gpus();
    } catch (CommandException e) {
      return List.of(new Finding("mig.mode", Severity.INFO, "MIG not checked: " + e.getMessage(),
          List.of(), Optional.empty()));
    } catch (GpuvirtException e) {
      return List.of(new Finding("mig.mode", Severity.WARNING, "MIG modes could not be read: "
          + e.getMessage(), List.of(), Optional.empty()));
    }
    if (gpus.isEmpty()) {
      return List.of();
    }
    List<Finding> out = new ArrayList<>();
    List<String> modes = new ArrayList<>();
    for (MigGpu g : gpus) {
      modes.add("GPU " + g.index() + " " + g.mode().current()
          + (g.mode().changePending() ? " (pending " + g.mode().pending() + ")" : ""));
      if (g.mode().changePending()) {
        String reset = "nvidia-smi -r -i " + g.index();
        out.add(new Finding("mig.mode.pending", Severity.WARNING, g.describe() + ": the MIG mode"
            + " change to " + g.mode().pending() + " is pending; the GPU stays "
            + g.mode().current() + " and takes no MIG instance until it is reset (" + reset
            + ") or, where a reset is not supported (a GPU in a VM, an A100 on some hosts), the"
            + " host is rebooted", List.of("nvidia-smi --query-gpu=mig.mode.current,"
                + "mig.mode.pending: " + g.mode().current() + ", " + g.mode().pending()),
            Optional.of(new Fix("stop the processes using the GPU, then reset it (or reboot)",
                Optional.empty(), "", List.of(reset)))));
      }
    }
    if (out.isEmpty()) {
      out.add(new Finding("mig.mode", Severity.OK, "MIG modes: " + String.join(", ", modes)
          + "; no change pending", List.of(), Optional.empty()));
    }
    return out;
  }
}
