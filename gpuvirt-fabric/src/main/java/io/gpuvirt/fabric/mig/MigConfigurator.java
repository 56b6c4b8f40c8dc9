package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.Lease;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.mig.ComputeInstance;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigPlan;
import io.gpuvirt.core.mig.MigPlanner;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.mig.PlannedInstance;
import io.gpuvirt.core.pci.PciAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * mig-parted's {@code apply}, {@code assert} and {@code export} on real (or simulated) GPUs,
 * through a {@link MigBackend}: an operator's existing mig-parted file works unchanged.
 *
 * <pre>{@code
 * MigConfigurator mig = MigConfigurator.on(NvidiaSmiMigBackend.on(CommandRunner.system()));
 * MigPartedConfig config = MigPartedYaml.read(Path.of("config.yaml"));
 * if (!mig.check(config, "all-balanced").matches()) {
 *   mig.apply(config, "all-balanced");     // all or nothing
 * }
 * }</pre>
 *
 * <p><b>Apply</b> is mig-parted's: every GPU's target is planned first (a config that does not
 * fit any GPU changes nothing); GPUs already as configured are left alone; then MIG modes are set
 * (a GPU being turned off loses its instances first), GPUs with a pending change are reset (or,
 * with {@link #skipReset}, the apply stops there and says which GPUs need a reset or reboot), and
 * on each GPU still to change every compute instance, then every GPU instance, is destroyed and
 * the plan created in the planner's order, each instance's id and placement read back.
 *
 * <p><b>Leases</b>: with {@link #protecting}, a GPU a lease holds is never changed: an apply that
 * would change one is refused before anything changes.
 *
 * <p><b>All or nothing</b>: when a step fails, every GPU this apply changed is put back as it was
 * (its mode, and GPU instances of the same profiles; the driver may give them other ids), and a
 * {@link MigApplyException} says what failed and that the GPUs were restored; when putting back
 * fails too, it names each GPU's state as left and the command that finishes the job.
 */
public final class MigConfigurator {
  private static final Logger LOG = LoggerFactory.getLogger(MigConfigurator.class);

  private final MigBackend backend;
  private final List<MigProfileTable> tables;
  private final boolean skipReset;
  private final Map<PciAddress, String> held;

  private MigConfigurator(MigBackend backend, List<MigProfileTable> tables, boolean skipReset,
      Map<PciAddress, String> held) {
    this.backend = backend;
    this.tables = tables;
    this.skipReset = skipReset;
    this.held = held;
  }

  /** A configurator over {@code backend}, with the built-in profile tables. */
  public static MigConfigurator on(MigBackend backend) {
    return new MigConfigurator(Objects.requireNonNull(backend, "backend"),
        MigProfileTable.builtIn(), false, Map.of());
  }

  /**
   * The same, refusing to change any GPU a lease of {@code ledger} holds (whole, as a reservation
   * still on the nvidia driver, as the physical function of its vGPUs, or by its MIG instances,
   * which an apply would destroy): its MIG mode and
   * instances stay until the lease ends. The refusal names the owner and changes nothing.
   */
  public MigConfigurator protecting(LeaseLedger ledger) {
    Map<PciAddress, String> owners = new TreeMap<>();
    for (Lease lease : ledger.leases()) {
      lease.devices().forEach(d -> owners.merge(d.address(), lease.owner(), (a, b) -> a + ", "
          + b));
      lease.vgpus().forEach(v -> owners.merge(v.pf(), lease.owner(), (a, b) -> a.contains(b) ? a
          : a + ", " + b));
      lease.migs().forEach(m -> owners.merge(m.gpu(), lease.owner(), (a, b) -> a.contains(b) ? a
          : a + ", " + b));
    }
    return new MigConfigurator(backend, tables, skipReset, Map.copyOf(owners));
  }

  /**
   * The same with {@code value} as the profile tables (from a real GPU's {@code -lgip}/{@code
   * -lgipp}, see {@link NvidiaSmiMig#profileTable}), first match by PCI device id wins.
   */
  public MigConfigurator withTables(List<MigProfileTable> value) {
    return new MigConfigurator(backend, List.copyOf(value), skipReset, held);
  }

  /**
   * mig-parted's {@code --skip-reset}: a mode change that needs a GPU reset is left pending and
   * apply stops before the instances (reboot, or reset the GPUs, then apply again).
   */
  public MigConfigurator skipReset(boolean value) {
    return new MigConfigurator(backend, tables, value, held);
  }

  /** The profile table of {@code gpu}'s model. */
  MigProfileTable table(MigGpu gpu) {
    return tables.stream().filter(t -> t.appliesTo(gpu.pciDeviceId())).findFirst()
        .orElseThrow(() -> new InvalidValueException("no MIG profile table for "
            + gpu.describe() + String.format(" (device id 0x%04x)", gpu.pciDeviceId())
            + "; give one with MigConfigurator.withTables"));
  }

  /** Every MIG-capable GPU with its mode and GPU instances. */
  public List<MigGpuState> states() {
    List<MigGpuState> out = new ArrayList<>();
    for (MigGpu g : backend.gpus()) {
      MigProfileTable table = table(g);
      MigLayout layout = g.mode().enabled() ? backend.layout(g.index(), table)
          : MigLayout.empty(table);
      out.add(new MigGpuState(g.index(), g.pciDeviceId(), g.mode(), layout));
    }
    return List.copyOf(out);
  }

  /**
   * mig-parted's {@code assert}: whether every GPU is as config {@code name} says.
   *
   * @throws InvalidValueException when the config cannot be applied to a GPU (no entry, an
   *     unknown profile), which is an error, not a mismatch
   */
  public Assertion check(MigPartedConfig config, String name) {
    Map<Integer, MigCheck> checks = new TreeMap<>();
    for (MigGpuState gpu : states()) {
      checks.put(gpu.index(), MigParted.check(config, name, gpu));
    }
    return new Assertion(checks);
  }

  /** mig-parted's {@code export}: the GPUs as they are, as a config called {@code name}. */
  public MigPartedConfig export(String name) {
    return MigParted.export(name, states());
  }

  /**
   * The answer of {@link #check}.
   *
   * @param gpus each GPU's check, by index
   */
  public record Assertion(Map<Integer, MigCheck> gpus) {
    public Assertion {
      gpus = java.util.Collections.unmodifiableMap(new TreeMap<>(gpus));
    }

    /** Whether every GPU matches. */
    public boolean matches() {
      return gpus.values().stream().allMatch(MigCheck::matches);
    }

    /** Every difference, GPU by GPU. */
    public List<String> differences() {
      return gpus.values().stream().flatMap(c -> c.differences().stream()).toList();
    }
  }

  /**
   * What {@link #apply} did.
   *
   * @param unchanged GPUs already as configured, by index
   * @param configured GPUs changed, by index, each with the GPU instances it has now
   * @param resetRequired GPUs whose mode change waits for a reset or reboot ({@link #skipReset});
   *     their instances were not created: apply again after it
   */
  public record ApplyResult(List<Integer> unchanged, Map<Integer, List<GpuInstance>> configured,
      List<Integer> resetRequired) {
    public ApplyResult {
      unchanged = List.copyOf(unchanged);
      configured = java.util.Collections.unmodifiableMap(new TreeMap<>(configured));
      resetRequired = List.copyOf(resetRequired);
    }
  }

  /**
   * mig-parted's {@code apply} of config {@code name} (see the class comment).
   *
   * @throws InvalidValueException or {@link io.gpuvirt.core.mig.MigPlanException} when the config
   *     cannot be applied to a GPU; nothing was changed
   * @throws MigApplyException when a step failed; the GPUs were put back, or the message says
   *     what is left
   */
  public ApplyResult apply(MigPartedConfig config, String name) {
    List<MigGpu> gpus = backend.gpus();
    List<MigGpuState> states = states();
    Map<Integer, MigTarget> targets = new LinkedHashMap<>();
    List<Integer> unchanged = new ArrayList<>();
    List<String> leased = new ArrayList<>();
    for (MigGpuState gpu : states) {
      MigTarget target = MigParted.plan(config, name, gpu); // throws before any change
      if (MigParted.check(config, name, gpu).matches()) {
        unchanged.add(gpu.index());
      } else {
        targets.put(gpu.index(), target);
        gpus.stream().filter(g -> g.index() == gpu.index() && held.containsKey(g.address()))
            .forEach(g -> leased.add(g.describe() + " is leased to " + held.get(g.address())));
      }
    }
    if (!leased.isEmpty()) {
      throw new MigApplyException("refusing to apply mig-config '" + name + "': "
          + String.join("; ", leased) + ". A leased GPU keeps its MIG mode and instances until"
          + " the lease ends (gpuvirt teardown --owner OWNER); nothing was changed");
    }
    Map<Integer, MigGpuState> touched = new LinkedHashMap<>(); // as before this apply
    Map<Integer, List<GpuInstance>> configured = new TreeMap<>();
    List<Integer> resetRequired = new ArrayList<>();
    String step = "";
    int at = -1;
    try {
      // 1. modes (a GPU being turned off loses its instances first)
      List<Integer> pending = new ArrayList<>();
      for (MigGpuState gpu : states) {
        MigTarget target = targets.get(gpu.index());
        if (target == null) {
          continue;
        }
        at = gpu.index();
        boolean on = target.entry().migEnabled();
        MigMode.State wanted = on ? MigMode.State.ENABLED : MigMode.State.DISABLED;
        if (gpu.mode().pending() != wanted || gpu.mode().current() != wanted) {
          touched.putIfAbsent(gpu.index(), gpu);
          if (!on && gpu.mode().enabled()) {
            step = "clearing its instances before turning MIG off";
            clear(gpu.index(), gpu.layout().table());
          }
          step = "turning MIG " + (on ? "on" : "off");
          MigMode after = backend.setMode(gpu.index(), on);
          if (after.changePending()) {
            pending.add(gpu.index());
          }
        }
      }
      // 2. resets
      if (!pending.isEmpty() && skipReset) {
        LOG.info("MIG mode changes pending on GPUs {}: reset or reboot, then apply again",
            pending);
        return new ApplyResult(unchanged, configured, pending);
      }
      for (int gpu : pending) {
        at = gpu;
        step = "resetting the GPU for its MIG mode change";
        backend.reset(gpu);
      }
      // 3. instances
      for (MigGpuState gpu : states) {
        MigTarget target = targets.get(gpu.index());
        if (target == null || target.plan().isEmpty()) {
          continue;
        }
        at = gpu.index();
        touched.putIfAbsent(gpu.index(), gpu);
        step = "destroying its instances";
        clear(gpu.index(), gpu.layout().table());
        List<GpuInstance> made = new ArrayList<>();
        for (PlannedInstance p : target.plan().get().creations()) {
          step = "creating a GPU instance of " + p.profile().name() + " (planned at "
              + p.placement() + ")";
          made.add(backend.createGpuInstance(gpu.index(), p.profile()));
        }
        configured.put(gpu.index(), made);
      }
      return new ApplyResult(unchanged, configured, resetRequired);
    } catch (GpuvirtException e) {
      String failure = "applying mig-config '" + name + "' failed on GPU " + at + " at "
          + (step.isEmpty() ? "its first step" : step) + ": " + e.getMessage();
      List<String> left = restore(touched);
      if (left.isEmpty()) {
        throw new MigApplyException(failure + ". Every GPU this apply changed (" + touched.keySet()
            + ") was put back as it was (same MIG mode and GPU-instance profiles; the driver may "
            + "have given the instances new ids); fix the cause and apply again", e);
      }
      throw new MigApplyException(failure + ". Putting the GPUs back failed too; as left: "
          + String.join("; ", left) + ". Finish by hand (nvidia-smi mig -dci/-dgi, nvidia-smi -i N"
          + " -mig 0|1 and a reset) or apply a config again", e);
    }
  }

  /**
   * Destroys every compute instance, then every GPU instance, on the GPU, whose MIG is on and
   * whose profiles {@code table} has.
   */
  private void clear(int gpu, MigProfileTable table) {
    for (ComputeInstance ci : backend.computeInstances(gpu)) {
      backend.destroyComputeInstance(gpu, ci.gpuInstanceId(), ci.id());
    }
    for (GpuInstance gi : backend.layout(gpu, table).instances()) {
      backend.destroyGpuInstance(gpu, gi.id());
    }
  }

  /**
   * Puts each touched GPU back as it was, last touched first.
   *
   * @return what could not be put back, per GPU; empty when everything was
   */
  private List<String> restore(Map<Integer, MigGpuState> touched) {
    List<String> left = new ArrayList<>();
    List<Map.Entry<Integer, MigGpuState>> order = new ArrayList<>(touched.entrySet());
    java.util.Collections.reverse(order);
    for (Map.Entry<Integer, MigGpuState> e : order) {
      int gpu = e.getKey();
      MigGpuState was = e.getValue();
      try {
        Optional<MigGpu> now = backend.gpus().stream().filter(g -> g.index() == gpu).findFirst();
        if (now.isEmpty()) {
          throw new MigApplyException("the GPU is no longer listed by the driver");
        }
        if (now.get().mode().enabled()) {
          clear(gpu, was.layout().table());
        }
        if (!now.get().mode().equals(was.mode())) {
          MigMode after = backend.setMode(gpu, was.mode().pending() == MigMode.State.ENABLED);
          if (after.current() != was.mode().current() && !was.mode().changePending()) {
            backend.reset(gpu);
          }
        }
        if (was.mode().enabled() && !was.layout().instances().isEmpty()) {
          MigPlan plan = MigPlanner.plan(MigLayout.empty(was.layout().table()),
              was.layout().profileCounts());
          for (PlannedInstance p : plan.creations()) {
            backend.createGpuInstance(gpu, p.profile());
          }
        }
      } catch (GpuvirtException failed) {
        left.add("GPU " + gpu + " was " + describe(was) + ", could not be put back ("
            + failed.getMessage() + ")");
      }
    }
    return left;
  }

  private static String describe(MigGpuState s) {
    return "MIG " + s.mode().current() + (s.mode().changePending() ? " (pending "
        + s.mode().pending() + ")" : "") + (s.mode().enabled() ? " with "
        + s.layout().profileCounts() : "");
  }
}
