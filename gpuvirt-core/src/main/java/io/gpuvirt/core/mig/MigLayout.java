package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The GPU instances on one GPU: valid by construction (each placement one its profile allows, no
 * two sharing a memory slice, no profile above its maximum, no more compute slices than the GPU
 * has).
 *
 * @param table the GPU model's profiles
 * @param instances the GPU instances, sorted by placement start
 */
public record MigLayout(MigProfileTable table, List<GpuInstance> instances) {

  /** Validates the layout against the table and names the conflict. */
  public MigLayout {
    Objects.requireNonNull(table, "table");
    List<GpuInstance> sorted = new ArrayList<>(instances);
    sorted.sort(Comparator.comparingInt((GpuInstance g) -> g.placement().start())
        .thenComparingInt(GpuInstance::id));
    instances = List.copyOf(sorted);
    Set<Integer> ids = new HashSet<>();
    long used = 0;
    int compute = 0;
    Map<String, Integer> counts = new TreeMap<>();
    for (GpuInstance g : instances) {
      GpuInstanceProfile p = g.profile();
      if (!table.profiles().contains(p)) {
        throw new InvalidValueException(
            "GPU instance " + g.id() + ": profile " + p.name() + " (id " + p.id()
                + ") is not one of " + table.model() + "'s profiles (" + table.profileNames()
                + ")");
      }
      if (!ids.add(g.id())) {
        throw new InvalidValueException(
            table.model() + ": GPU instance id " + g.id() + " appears twice");
      }
      if ((used & g.placement().mask()) != 0) {
        throw new InvalidValueException(
            table.model() + ": GPU instance " + g.id() + " (" + p.name() + " at "
                + g.placement() + ") overlaps another instance's memory slices");
      }
      used |= g.placement().mask();
      compute += p.computeSlices();
      int n = counts.merge(p.name(), 1, Integer::sum);
      if (n > p.maxInstances()) {
        throw new InvalidValueException(
            table.model() + ": " + n + " instances of " + p.name() + "; at most "
                + p.maxInstances() + " fit one GPU");
      }
    }
    if (compute > table.computeSlices()) {
      throw new InvalidValueException(
          table.model() + ": the GPU instances take " + compute + " compute slices; the GPU has "
              + table.computeSlices());
    }
  }

  /** A GPU with MIG enabled and no GPU instances. */
  public static MigLayout empty(MigProfileTable table) {
    return new MigLayout(table, List.of());
  }

  /** The memory slices in use, as a bit mask (bit i = slice i). */
  public long usedMask() {
    long used = 0;
    for (GpuInstance g : instances) {
      used |= g.placement().mask();
    }
    return used;
  }

  /** The compute slices in use. */
  public int usedComputeSlices() {
    return instances.stream().mapToInt(g -> g.profile().computeSlices()).sum();
  }

  /** How many instances of each profile exist, by profile name (sorted by name). */
  public Map<String, Integer> profileCounts() {
    Map<String, Integer> counts = new TreeMap<>();
    instances.forEach(g -> counts.merge(g.profile().name(), 1, Integer::sum));
    return counts;
  }

  /** This layout with one more instance; validated like any layout. */
  public MigLayout with(GpuInstance instance) {
    List<GpuInstance> all = new ArrayList<>(instances);
    all.add(instance);
    return new MigLayout(table, all);
  }

  /** This layout without the GPU instance of this id. */
  public MigLayout without(int gpuInstanceId) {
    List<GpuInstance> rest = new ArrayList<>(instances);
    if (!rest.removeIf(g -> g.id() == gpuInstanceId)) {
      throw new InvalidValueException(
          table.model() + ": there is no GPU instance " + gpuInstanceId);
    }
    return new MigLayout(table, rest);
  }

  /**
   * Where the driver puts a new instance of the profile when it is created without a placement
   * ({@code nvidia-smi mig -cgi ID}, {@code nvmlDeviceCreateGpuInstance}): the highest free start
   * the profile allows, or empty when the driver answers "Insufficient Resources" (no free
   * placement, the profile at its maximum, or too few compute slices left). The rule is inferred
   * from NVIDIA's examples ({@code -cgi 19,14,5} on an A100 places {@code 6:1}, {@code 4:2},
   * {@code 0:4}) and reproduces the documented failure of {@code 19,19,14,9}.
   */
  public Optional<MigPlacement> driverPlacement(GpuInstanceProfile profile) {
    if (profileCounts().getOrDefault(profile.name(), 0) >= profile.maxInstances()
        || usedComputeSlices() + profile.computeSlices() > table.computeSlices()) {
      return Optional.empty();
    }
    long used = usedMask();
    List<MigPlacement> placements = profile.placements();
    for (int i = placements.size() - 1; i >= 0; i--) {
      if ((placements.get(i).mask() & used) == 0) {
        return Optional.of(placements.get(i));
      }
    }
    return Optional.empty();
  }

  /** The free memory slices as ranges, e.g. {@code 0-1, 5-7}, or {@code none}. */
  public String freeSlicesText() {
    return freeSlicesText(usedMask(), table.memorySlices());
  }

  static String freeSlicesText(long used, int slices) {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < slices) {
      if ((used & (1L << i)) != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j + 1 < slices && (used & (1L << (j + 1))) == 0) {
        j++;
      }
      if (out.length() > 0) {
        out.append(", ");
      }
      out.append(i == j ? String.valueOf(i) : i + "-" + j);
      i = j + 1;
    }
    return out.length() == 0 ? "none" : out.toString();
  }
}
