package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Plans GPU instances on one GPU: a wanted multiset of profiles (e.g. {@code {"1g.23gb": 2,
 * "2g.45gb": 1, "3g.90gb": 1}}) becomes placements and a creation order, beside the instances that
 * already exist, or a {@link MigPlanException} that says exactly why no layout fits.
 *
 * <p>The order matters on real hardware: created without placements, the driver puts each instance
 * at the highest free start its profile allows ({@link MigLayout#driverPlacement}), so
 * {@code 19,19,14,9} fails on an H100 while {@code 9,19,14,19} succeeds. The planner first looks
 * at every distinct creation order under that rule; among the layouts they reach it takes the best
 * fit, and the first order (in a fixed order of profiles) that reaches it, so {@code nvidia-smi mig
 * -cgi} with that order works ({@link MigPlan#driverOrder()} true). Only when no order reaches any
 * layout does it fall back to the best layout by explicit placement (NVML's
 * {@code CreateGpuInstanceWithPlacement}). On the built-in tables that never happens: the property
 * test finds a driver order for every feasible multiset, so the fallback guards only tables an
 * integrator supplies with another geometry.
 *
 * <p>Best fit keeps large placements free: a layout is better when, after it, more placements of
 * the largest profiles are still free (compared profile by profile from the largest down).
 * Everything is deterministic: the same table, layout and wish give the same plan.
 */
public final class MigPlanner {
  private MigPlanner() {}

  /**
   * Plans the wanted instances beside the existing ones.
   *
   * @param existing the GPU's current layout (kept)
   * @param wanted profile name → how many more instances (0 allowed, negative not)
   * @throws InvalidValueException for an unknown profile name or a negative count
   * @throws MigPlanException when no layout fits, naming the profile and the free slices
   */
  public static MigPlan plan(MigLayout existing, Map<String, Integer> wanted) {
    Objects.requireNonNull(existing, "existing");
    Objects.requireNonNull(wanted, "wanted");
    MigProfileTable table = existing.table();
    List<GpuInstanceProfile> order = sizeOrder(table);
    // resolve and pre-check
    Map<GpuInstanceProfile, Integer> counts = new TreeMap<>(
        Comparator.comparingInt((GpuInstanceProfile p) -> order.indexOf(p)));
    for (Map.Entry<String, Integer> e : new TreeMap<>(wanted).entrySet()) {
      Integer n = Objects.requireNonNull(e.getValue(), "count of " + e.getKey());
      if (n < 0) {
        throw new InvalidValueException(
            "MIG plan on " + table.model() + ": count " + n + " for " + e.getKey()
                + " is negative");
      }
      GpuInstanceProfile p = table.profile(e.getKey());
      if (n > 0) {
        counts.put(p, n);
      }
    }
    String what = wantedText(counts) + existingText(existing) + " on " + table.model();
    Map<String, Integer> have = existing.profileCounts();
    int compute = existing.usedComputeSlices();
    int memory = Long.bitCount(existing.usedMask());
    for (Map.Entry<GpuInstanceProfile, Integer> e : counts.entrySet()) {
      GpuInstanceProfile p = e.getKey();
      int total = e.getValue() + have.getOrDefault(p.name(), 0);
      if (total > p.maxInstances()) {
        throw new MigPlanException(
            "cannot place " + what + ": " + total + " instances of " + p.name()
                + " wanted in all, " + table.model() + " allows at most " + p.maxInstances());
      }
      compute += p.computeSlices() * e.getValue();
      memory += p.memorySlices() * e.getValue();
    }
    if (compute > table.computeSlices()) {
      throw new MigPlanException(
          "cannot place " + what + ": they need " + compute + " compute slices, the GPU has "
              + table.computeSlices());
    }
    if (memory > table.memorySlices()) {
      throw new MigPlanException(
          "cannot place " + what + ": they need " + memory + " memory slices, the GPU has "
              + table.memorySlices() + " (free: " + existing.freeSlicesText() + ")");
    }
    List<GpuInstanceProfile> items = new ArrayList<>();
    counts.forEach((p, n) -> {
      for (int i = 0; i < n; i++) {
        items.add(p);
      }
    });
    Search search = new Search(existing, order);
    search.driverOrders(items);
    if (search.best != null) {
      return new MigPlan(existing, search.best, true);
    }
    List<PlannedInstance> explicit = search.explicit(items);
    if (explicit != null) {
      return new MigPlan(existing, explicit, false);
    }
    throw new MigPlanException("cannot place " + what + ": " + search.why(items));
  }

  /** The table's profiles from the largest (memory, then compute slices) down, then by id. */
  static List<GpuInstanceProfile> sizeOrder(MigProfileTable table) {
    List<GpuInstanceProfile> order = new ArrayList<>(table.profiles());
    order.sort(Comparator.comparingInt(GpuInstanceProfile::memorySlices).reversed()
        .thenComparing(Comparator.comparingInt(GpuInstanceProfile::computeSlices).reversed())
        .thenComparingInt(GpuInstanceProfile::id));
    return List.copyOf(order);
  }

  private static String wantedText(Map<GpuInstanceProfile, Integer> counts) {
    return counts.entrySet().stream().map(e -> e.getValue() + " x " + e.getKey().name())
        .collect(Collectors.joining(", ", "{", "}"));
  }

  private static String existingText(MigLayout existing) {
    if (existing.instances().isEmpty()) {
      return "";
    }
    return " beside " + existing.instances().stream()
        .map(g -> g.profile().name() + "@" + g.placement())
        .collect(Collectors.joining(", ", "[", "]"));
  }

  /** The searches over one GPU; plain masks and counts, no layout objects, for speed. */
  private static final class Search {
    private final MigLayout existing;
    private final MigProfileTable table;
    private final List<GpuInstanceProfile> order;
    private final Set<String> seen = new HashSet<>();
    private List<PlannedInstance> best;
    private int[] bestScore;

    Search(MigLayout existing, List<GpuInstanceProfile> order) {
      this.existing = existing;
      this.table = existing.table();
      this.order = order;
    }

    /** Every distinct creation order under the driver's placement rule. */
    void driverOrders(List<GpuInstanceProfile> items) {
      int[] remaining = new int[order.size()];
      items.forEach(p -> remaining[order.indexOf(p)]++);
      int[] counts = new int[order.size()];
      existing.instances().forEach(g -> counts[order.indexOf(g.profile())]++);
      walk(remaining, counts, existing.usedMask(), existing.usedComputeSlices(),
          new ArrayList<>());
    }

    private void walk(int[] remaining, int[] counts, long used, int compute,
        List<PlannedInstance> path) {
      if (!seen.add(used + "/" + Arrays.toString(remaining))) {
        return; // every ending from this state was found by an earlier order
      }
      boolean done = true;
      for (int i = 0; i < remaining.length; i++) {
        if (remaining[i] == 0) {
          continue;
        }
        done = false;
        GpuInstanceProfile p = order.get(i);
        MigPlacement at = driverPlacement(p, counts[i], used, compute);
        if (at == null) {
          continue;
        }
        remaining[i]--;
        counts[i]++;
        path.add(new PlannedInstance(p, at));
        walk(remaining, counts, used | at.mask(), compute + p.computeSlices(), path);
        path.remove(path.size() - 1);
        counts[i]--;
        remaining[i]++;
      }
      if (done) {
        offer(path, counts, used, compute);
      }
    }

    private MigPlacement driverPlacement(GpuInstanceProfile p, int count, long used,
        int compute) {
      if (count >= p.maxInstances() || compute + p.computeSlices() > table.computeSlices()) {
        return null;
      }
      List<MigPlacement> placements = p.placements();
      for (int i = placements.size() - 1; i >= 0; i--) {
        if ((placements.get(i).mask() & used) == 0) {
          return placements.get(i);
        }
      }
      return null;
    }

    private void offer(List<PlannedInstance> path, int[] counts, long used, int compute) {
      int[] score = score(counts, used, compute);
      if (bestScore == null || Arrays.compare(score, bestScore) > 0) {
        bestScore = score;
        best = List.copyOf(path);
      }
    }

    /** Per profile, largest first: how many of its placements are still free after a layout. */
    private int[] score(int[] counts, long used, int compute) {
      int[] score = new int[order.size()];
      for (int i = 0; i < order.size(); i++) {
        GpuInstanceProfile p = order.get(i);
        if (counts[i] >= p.maxInstances()
            || compute + p.computeSlices() > table.computeSlices()) {
          continue;
        }
        for (MigPlacement at : p.placements()) {
          if ((at.mask() & used) == 0) {
            score[i]++;
          }
        }
      }
      return score;
    }

    /** The best layout by explicit placement, in size order; null when none fits. */
    List<PlannedInstance> explicit(List<GpuInstanceProfile> items) {
      best = null;
      bestScore = null;
      int[] counts = new int[order.size()];
      existing.instances().forEach(g -> counts[order.indexOf(g.profile())]++);
      place(items, 0, counts, existing.usedMask(), existing.usedComputeSlices(), -1,
          new ArrayList<>());
      return best;
    }

    private void place(List<GpuInstanceProfile> items, int k, int[] counts, long used,
        int compute, int lastStart, List<PlannedInstance> path) {
      if (k == items.size()) {
        offer(path, counts, used, compute);
        return;
      }
      GpuInstanceProfile p = items.get(k);
      int i = order.indexOf(p);
      if (counts[i] >= p.maxInstances() || compute + p.computeSlices() > table.computeSlices()) {
        return;
      }
      // equal profiles take ascending starts: each set of placements is tried once
      boolean sameAsLast = k > 0 && items.get(k - 1).equals(p);
      for (MigPlacement at : p.placements()) {
        if ((sameAsLast && at.start() <= lastStart) || (at.mask() & used) != 0) {
          continue;
        }
        counts[i]++;
        path.add(new PlannedInstance(p, at));
        place(items, k + 1, counts, used | at.mask(), compute + p.computeSlices(), at.start(),
            path);
        path.remove(path.size() - 1);
        counts[i]--;
      }
    }

    /**
     * Why no layout fits: the first instance (largest first) that no layout of it and the ones
     * before it can hold, its placement rule and what the best layout of the ones before leaves.
     */
    String why(List<GpuInstanceProfile> items) {
      for (int k = 1; k <= items.size(); k++) {
        if (explicit(items.subList(0, k)) != null) {
          continue;
        }
        GpuInstanceProfile p = items.get(k - 1);
        List<PlannedInstance> before = k == 1 ? List.of() : explicit(items.subList(0, k - 1));
        long used = existing.usedMask();
        for (PlannedInstance b : before) {
          used |= b.placement().mask();
        }
        String starts = p.placementStarts().stream().map(String::valueOf)
            .collect(Collectors.joining(", "));
        return p.name() + " needs " + p.memorySlices() + " contiguous memory slice"
            + (p.memorySlices() == 1 ? "" : "s") + " starting at "
            + (p.placementStarts().size() == 1 ? "" : "one of ") + starts + "; free"
            + (before.isEmpty() ? "" : " after " + before) + ": "
            + MigLayout.freeSlicesText(used, table.memorySlices())
            + "; destroy instances or ask for fewer";
      }
      return "no layout fits"; // unreachable: the full list is infeasible
    }
  }
}
