package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigPlan;
import io.gpuvirt.core.mig.MigPlanException;
import io.gpuvirt.core.mig.MigPlanner;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * mig-parted's {@code apply} planning, {@code assert} and {@code export} as pure functions over the
 * core MIG model. Nothing here touches a GPU.
 *
 * <p>A GPU is selected by the first entry of the config whose {@code device-filter} (absent = any)
 * and {@code devices} ({@code all} or indices) both match it.
 */
public final class MigParted {
  private MigParted() {}

  /**
   * The entry of a config that selects the GPU.
   *
   * @throws InvalidValueException when the config does not exist or no entry selects the GPU
   *     (its device filters match another model, or its indices another GPU)
   */
  public static MigConfigEntry entryFor(MigPartedConfig config, String name, MigGpuState gpu) {
    for (MigConfigEntry e : config.entries(name)) {
      if (e.selects(gpu.index(), gpu.pciDeviceId())) {
        return e;
      }
    }
    String filters = config.entries(name).stream()
        .map(e -> (e.deviceFilter().isEmpty() ? "any device" : e.deviceFilter().toString())
            + " / devices " + e.devices().map(Object::toString).orElse("all"))
        .collect(Collectors.joining("; "));
    throw new InvalidValueException(
        "mig-config '" + name + "' has no entry for " + gpu.describe() + " (entries: " + filters
            + "); add an entry with device-filter "
            + MigDeviceFilter.nvidia(gpu.pciDeviceId()) + " or choose another config");
  }

  /**
   * What a config asks of the GPU: the MIG mode and, MIG enabled, the plan of instances on the
   * cleared GPU.
   *
   * @throws InvalidValueException for a missing config, no entry for the GPU, or a profile name
   *     the GPU's model does not have (naming the config, the GPU and the entry's key path)
   * @throws MigPlanException when the entry's instances do not fit the GPU
   */
  public static MigTarget plan(MigPartedConfig config, String name, MigGpuState gpu) {
    MigConfigEntry entry = entryFor(config, name, gpu);
    if (!entry.migEnabled()) {
      return new MigTarget(entry, Optional.empty());
    }
    String where = "mig-config '" + name + "' on " + gpu.describe() + ": mig-configs." + name
        + "[" + config.entries(name).indexOf(entry) + "].mig-devices: ";
    try {
      MigPlan plan = MigPlanner.plan(MigLayout.empty(gpu.layout().table()), entry.migDevices());
      return new MigTarget(entry, Optional.of(plan));
    } catch (MigPlanException e) {
      throw new MigPlanException(where + e.getMessage());
    } catch (InvalidValueException e) {
      throw new InvalidValueException(where + e.getMessage(), e);
    }
  }

  /**
   * mig-parted's {@code assert}: whether the GPU's MIG mode (current, nothing pending) and GPU
   * instances (profile counts) are what the config asks.
   *
   * @throws InvalidValueException as {@link #plan}: a config that cannot be applied to the GPU is
   *     an error, not a mismatch
   */
  public static MigCheck check(MigPartedConfig config, String name, MigGpuState gpu) {
    MigTarget target = plan(config, name, gpu);
    MigConfigEntry entry = target.entry();
    List<String> differences = new ArrayList<>();
    MigMode.State wanted = entry.migEnabled() ? MigMode.State.ENABLED : MigMode.State.DISABLED;
    if (gpu.mode().current() != wanted) {
      differences.add(gpu.describe() + ": MIG mode is " + gpu.mode().current() + ", the config "
          + "wants " + wanted);
    }
    if (gpu.mode().changePending()) {
      differences.add(gpu.describe() + ": MIG mode change to " + gpu.mode().pending()
          + " is pending; reset the GPU");
    }
    if (entry.migEnabled() && gpu.mode().enabled()) {
      Map<String, Integer> want = new TreeMap<>(entry.migDevices());
      want.values().removeIf(n -> n == 0);
      Map<String, Integer> have = gpu.layout().profileCounts();
      if (!want.equals(have)) {
        differences.add(gpu.describe() + ": GPU instances are " + have + ", the config wants "
            + want);
      }
    }
    return new MigCheck(differences.isEmpty(), differences);
  }

  /**
   * mig-parted's {@code export}: the GPUs' current modes and instances as a config of one name,
   * one entry per GPU ({@code device-filter} its PCI id, {@code devices} its index), profiles
   * largest first. {@link #check} of the result against the same GPUs matches (when no mode change
   * is pending), and {@link MigPartedYaml#write} of it parses back to an equal config.
   */
  public static MigPartedConfig export(String name, List<MigGpuState> gpus) {
    List<MigConfigEntry> entries = new ArrayList<>();
    for (MigGpuState gpu : gpus) {
      Map<String, Integer> devices = new LinkedHashMap<>();
      if (gpu.mode().enabled()) {
        Map<String, Integer> counts = gpu.layout().profileCounts();
        List<GpuInstanceProfile> order = new ArrayList<>(gpu.layout().table().profiles());
        order.sort(Comparator.comparingInt(GpuInstanceProfile::memorySlices)
            .reversed().thenComparingInt(GpuInstanceProfile::id));
        for (GpuInstanceProfile p : order) {
          if (counts.containsKey(p.name())) {
            devices.put(p.name(), counts.get(p.name()));
          }
        }
      }
      entries.add(new MigConfigEntry(List.of(MigDeviceFilter.nvidia(gpu.pciDeviceId())),
          Optional.of(List.of(gpu.index())), gpu.mode().enabled(), devices));
    }
    return new MigPartedConfig(Map.of(name, entries));
  }
}
