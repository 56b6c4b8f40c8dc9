package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.mig.ComputeInstance;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.pci.PciAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@link MigBackend} over the {@code nvidia-smi} CLI, through the {@link CommandRunner} seam:
 * {@code --query-gpu} for the GPUs and their modes, {@code -i N -mig 0|1}, {@code -r -i N}, and
 * {@code mig -lgi/-lci/-cgi ID -C/-dci/-dgi}. Every output is parsed strictly
 * ({@link NvidiaSmiMig}); GPU-instance ids and placements are read from what the driver printed.
 * A failed command is a {@link MigBackendException} quoting the driver's answer.
 *
 * <pre>{@code
 * MigBackend mig = NvidiaSmiMigBackend.on(CommandRunner.system());
 * mig.gpus().forEach(g -> System.out.println(g.describe() + ": " + g.mode()));
 * }</pre>
 */
public final class NvidiaSmiMigBackend implements MigBackend {
  /** How long one {@code nvidia-smi} run may take (a GPU reset takes seconds). */
  public static final Duration TIMEOUT = Duration.ofSeconds(120);

  private static final String FIELDS =
      "index,pci.bus_id,name,pci.device_id,mig.mode.current,mig.mode.pending";
  private static final Pattern QUERY_ROW = Pattern.compile("(\\d{1,2}), ([0-9A-Fa-f]{8}:"
      + "[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\\.[0-7]), ([^,]{1,96}), 0x([0-9A-Fa-f]{4})10DE, "
      + "(Enabled|Disabled|\\[N/A\\]), (Enabled|Disabled|\\[N/A\\])");

  private final CommandRunner runner;
  private final String program;

  private NvidiaSmiMigBackend(CommandRunner runner, String program) {
    this.runner = runner;
    this.program = program;
  }

  /** The backend running {@code nvidia-smi} from {@code PATH} through {@code runner}. */
  public static NvidiaSmiMigBackend on(CommandRunner runner) {
    return on(runner, "nvidia-smi");
  }

  /** The backend running {@code program} (an absolute path, say) through {@code runner}. */
  public static NvidiaSmiMigBackend on(CommandRunner runner, String program) {
    return new NvidiaSmiMigBackend(Objects.requireNonNull(runner, "runner"),
        Objects.requireNonNull(program, "program"));
  }

  /** The MIG-capable GPUs (those whose MIG mode is not {@code [N/A]}), by index. */
  @Override
  public List<MigGpu> gpus() {
    CommandResult r = run("listing the GPUs' MIG modes", List.of("--query-gpu=" + FIELDS,
        "--format=csv,noheader"));
    List<MigGpu> gpus = new ArrayList<>();
    String[] lines = r.stdout().split("\\R");
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty()) {
        continue;
      }
      Matcher m = QUERY_ROW.matcher(line);
      if (!m.matches()) {
        throw new NvidiaSmiFormatException("--query-gpu=" + FIELDS, i + 1, line,
            "expected 'index, bus id, name, 0xDDDD10DE, mode, mode'");
      }
      if (m.group(5).equals("[N/A]") || m.group(6).equals("[N/A]")) {
        continue; // a GPU without MIG
      }
      PciAddress address = PciAddress.parse(m.group(2).substring(4).toLowerCase(Locale.ROOT));
      gpus.add(new MigGpu(Integer.parseInt(m.group(1)), address,
          Integer.parseInt(m.group(4), 16), m.group(3).strip(),
          new MigMode(state(m.group(5)), state(m.group(6)))));
    }
    return List.copyOf(gpus);
  }

  private static MigMode.State state(String text) {
    return text.equals("Enabled") ? MigMode.State.ENABLED : MigMode.State.DISABLED;
  }

  @Override
  public MigMode setMode(int gpu, boolean enabled) {
    run("turning MIG " + (enabled ? "on" : "off") + " on GPU " + gpu,
        List.of("-i", String.valueOf(gpu), "-mig", enabled ? "1" : "0"));
    return gpu(gpu).mode();
  }

  @Override
  public void reset(int gpu) {
    run("resetting GPU " + gpu, List.of("-r", "-i", String.valueOf(gpu)));
  }

  @Override
  public MigLayout layout(int gpu, MigProfileTable table) {
    CommandResult r = runner.run(command(List.of("mig", "-lgi", "-i", String.valueOf(gpu))));
    if (none(r, "No GPU instances found")) {
      return MigLayout.empty(table);
    }
    check(r, "listing the GPU instances of GPU " + gpu);
    List<GpuInstance> instances = new ArrayList<>();
    for (NvidiaSmiMig.GpuInstanceRow row : NvidiaSmiMig.parseGpuInstances(r.stdout())) {
      if (row.gpu() == gpu) {
        instances.add(new GpuInstance(row.gpuInstanceId(), table.profile(row.profileId()),
            row.placement()));
      }
    }
    return new MigLayout(table, instances);
  }

  @Override
  public List<ComputeInstance> computeInstances(int gpu) {
    CommandResult r = runner.run(command(List.of("mig", "-lci", "-i", String.valueOf(gpu))));
    if (none(r, "No compute instances found")) {
      return List.of();
    }
    check(r, "listing the compute instances of GPU " + gpu);
    List<ComputeInstance> out = new ArrayList<>();
    for (NvidiaSmiMig.ComputeInstanceRow row : NvidiaSmiMig.parseComputeInstances(r.stdout())) {
      if (row.gpu() == gpu) {
        out.add(new ComputeInstance(row.computeInstanceId(), row.gpuInstanceId(), row.name(),
            row.profileId()));
      }
    }
    // the port's order (by GPU instance, then id), whatever order nvidia-smi printed them in
    out.sort(java.util.Comparator.comparingInt(ComputeInstance::gpuInstanceId)
        .thenComparingInt(ComputeInstance::id));
    return List.copyOf(out);
  }

  @Override
  public GpuInstance createGpuInstance(int gpu, GpuInstanceProfile profile) {
    String what = "creating a GPU instance of " + profile.name() + " (ID " + profile.id()
        + ") on GPU " + gpu;
    CommandResult r = run(what, List.of("mig", "-cgi", String.valueOf(profile.id()), "-C", "-i",
        String.valueOf(gpu)));
    int id = -1;
    for (NvidiaSmiMig.Message m : NvidiaSmiMig.parseMessages("mig -cgi", r.stdout())) {
      if (m instanceof NvidiaSmiMig.GpuInstanceCreated c && c.gpu() == gpu) {
        id = c.gpuInstanceId();
      }
    }
    if (id < 0) {
      throw new MigBackendException(what + ": nvidia-smi reported success but no 'Successfully "
          + "created GPU instance' line; its output was: " + r.stdout().strip());
    }
    return readBack(gpu, profile, id);
  }

  /** The placement the driver gave the new instance {@code id}: read back, never predicted. */
  private GpuInstance readBack(int gpu, GpuInstanceProfile profile, int id) {
    CommandResult listed = run("reading back GPU instance " + id + " of GPU " + gpu,
        List.of("mig", "-lgi", "-i", String.valueOf(gpu)));
    for (NvidiaSmiMig.GpuInstanceRow row : NvidiaSmiMig.parseGpuInstances(listed.stdout())) {
      if (row.gpu() == gpu && row.gpuInstanceId() == id) {
        return new GpuInstance(id, profile, row.placement());
      }
    }
    throw new MigBackendException("GPU instance " + id + " of " + profile.name() + " that "
        + "nvidia-smi just created on GPU " + gpu + " is not in 'nvidia-smi mig -lgi'");
  }

  @Override
  public void destroyComputeInstance(int gpu, int gpuInstanceId, int computeInstanceId) {
    run("destroying compute instance " + computeInstanceId + " of GPU instance "
        + gpuInstanceId + " on GPU " + gpu, List.of("mig", "-dci", "-i", String.valueOf(gpu),
            "-gi", String.valueOf(gpuInstanceId), "-ci", String.valueOf(computeInstanceId)));
  }

  @Override
  public void destroyGpuInstance(int gpu, int gpuInstanceId) {
    run("destroying GPU instance " + gpuInstanceId + " on GPU " + gpu, List.of("mig", "-dgi",
        "-i", String.valueOf(gpu), "-gi", String.valueOf(gpuInstanceId)));
  }

  private MigGpu gpu(int index) {
    return gpus().stream().filter(g -> g.index() == index).findFirst()
        .orElseThrow(() -> new MigBackendException("GPU " + index + " is not a MIG-capable GPU "
            + "nvidia-smi lists; check 'nvidia-smi -L'"));
  }

  private Command command(List<String> args) {
    List<String> argv = new ArrayList<>();
    argv.add(program);
    argv.addAll(args);
    return Command.of(argv).withTimeout(TIMEOUT);
  }

  private CommandResult run(String what, List<String> args) {
    CommandResult r = runner.run(command(args));
    check(r, what);
    return r;
  }

  private static boolean none(CommandResult r, String message) {
    return r.exitCode() == 6 && (r.stdout() + r.stderr()).contains(message);
  }

  private static void check(CommandResult r, String what) {
    if (r.timedOut()) {
      throw new MigBackendException(what + " failed: " + String.join(" ", r.argv())
          + " did not finish within " + r.elapsed().toSeconds() + " s and was killed");
    }
    if (r.exitCode() != 0) {
      String answer = (r.stderr().strip() + " " + r.stdout().strip()).strip();
      throw new MigBackendException(what + " failed: " + String.join(" ", r.argv())
          + " exited with " + r.exitCode() + ": " + oneLine(answer) + hint(answer));
    }
  }

  private static String hint(String answer) {
    if (answer.contains("Insufficient Resources")) {
      return ". The GPU has no free placement for it: destroy instances, or create the larger "
          + "profiles first";
    }
    if (answer.contains("In use by another client")) {
      return ". Stop the processes using the GPU (nvidia-smi shows them; on DGX also nvsm and "
          + "dcgm), destroy its compute instances first, and retry";
    }
    if (answer.contains("No MIG-enabled devices")) {
      return ". Turn MIG on first (nvidia-smi -i N -mig 1, then a GPU reset)";
    }
    return "";
  }

  private static String oneLine(String s) {
    return s.replace("\r", "").replace("\n", " / ");
  }
}
