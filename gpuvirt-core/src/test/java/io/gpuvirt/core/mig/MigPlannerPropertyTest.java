package io.gpuvirt.core.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The planner against an independent brute-force oracle: for every multiset of profiles (bounded
 * to 9 memory slices, so that over-full ones are included) on every built-in model, and for
 * seeded random starting layouts, the planner finds a layout exactly when the oracle does, and
 * every plan is valid (and, when it claims a driver order, the driver's rule reproduces it).
 */
final class MigPlannerPropertyTest {

  static Stream<MigProfileTable> tables() {
    return MigProfileTable.builtIn().stream();
  }

  @ParameterizedTest
  @MethodSource("tables")
  void everyMultiset_onAnEmptyGpu_agreesWithBruteForce(MigProfileTable table) {
    List<GpuInstanceProfile> profiles = table.profiles();
    int[] counts = new int[profiles.size()];
    int[] checked = {0, 0};
    enumerate(table, profiles, counts, 0, 0, MigLayout.empty(table), checked, "empty " + table.model());
    assertTrue(checked[0] > 100, "checked " + checked[0] + " multisets");
    assertTrue(checked[1] > 20, "only " + checked[1] + " feasible multisets");
  }

  private static void enumerate(MigProfileTable table, List<GpuInstanceProfile> profiles,
      int[] counts, int index, int memory, MigLayout existing, int[] checked, String where) {
    if (index == profiles.size()) {
      if (check(existing, wanted(profiles, counts), where)) {
        checked[1]++;
      }
      checked[0]++;
      return;
    }
    GpuInstanceProfile p = profiles.get(index);
    for (int n = 0; n <= p.maxInstances() + 1 && memory + n * p.memorySlices() <= 9; n++) {
      counts[index] = n;
      enumerate(table, profiles, counts, index + 1, memory + n * p.memorySlices(), existing,
          checked, where);
    }
    counts[index] = 0;
  }

  @Test
  void randomExistingLayouts_agreeWithBruteForce() {
    for (long seed = 0; seed < 400; seed++) {
      SplittableRandom rnd = new SplittableRandom(seed);
      List<MigProfileTable> tables = MigProfileTable.builtIn();
      MigProfileTable table = tables.get(rnd.nextInt(tables.size()));
      MigLayout layout = MigLayout.empty(table);
      int existing = rnd.nextInt(4);
      for (int k = 0; k < existing; k++) {
        GpuInstanceProfile p = table.profiles().get(rnd.nextInt(table.profiles().size()));
        List<MigPlacement> free = new ArrayList<>();
        for (MigPlacement at : p.placements()) {
          try {
            layout.with(new GpuInstance(k + 1, p, at));
            free.add(at);
          } catch (io.gpuvirt.core.InvalidValueException e) {
            // not free
          }
        }
        if (!free.isEmpty()) {
          layout = layout.with(new GpuInstance(k + 1, p, free.get(rnd.nextInt(free.size()))));
        }
      }
      Map<String, Integer> wanted = new TreeMap<>();
      int n = 1 + rnd.nextInt(5);
      for (int k = 0; k < n; k++) {
        wanted.merge(table.profiles().get(rnd.nextInt(table.profiles().size())).name(), 1,
            Integer::sum);
      }
      check(layout, wanted, "seed " + seed + " (" + table.model() + ", " + layout.instances()
          + ", " + wanted + ")");
    }
  }

  private static Map<String, Integer> wanted(List<GpuInstanceProfile> profiles, int[] counts) {
    Map<String, Integer> wanted = new TreeMap<>();
    for (int i = 0; i < counts.length; i++) {
      if (counts[i] > 0) {
        wanted.put(profiles.get(i).name(), counts[i]);
      }
    }
    return wanted;
  }

  /** Plans and compares with the oracle; returns whether a layout exists. */
  private static boolean check(MigLayout existing, Map<String, Integer> wanted, String where) {
    boolean oracle = Oracle.feasible(existing, wanted);
    MigPlan plan;
    try {
      plan = MigPlanner.plan(existing, wanted);
    } catch (MigPlanException e) {
      if (oracle) {
        fail(where + ": planner refused " + wanted + " but a layout exists: " + e.getMessage());
      }
      return false;
    }
    if (!oracle) {
      fail(where + ": planner placed " + wanted + " as " + plan.creations()
          + " but brute force finds no valid layout");
    }
    Oracle.assertValid(existing, wanted, plan, where);
    return true;
  }

  /** Brute force written apart from the planner: every assignment of starts, checked plainly. */
  static final class Oracle {
    static boolean feasible(MigLayout existing, Map<String, Integer> wanted) {
      List<GpuInstanceProfile> items = new ArrayList<>();
      wanted.forEach((name, n) -> {
        for (int i = 0; i < n; i++) {
          items.add(existing.table().profile(name));
        }
      });
      List<GpuInstanceProfile> all = new ArrayList<>();
      List<Integer> starts = new ArrayList<>();
      for (GpuInstance g : existing.instances()) {
        all.add(g.profile());
        starts.add(g.placement().start());
      }
      all.addAll(items);
      return assign(existing.table(), all, starts);
    }

    private static boolean assign(MigProfileTable table, List<GpuInstanceProfile> all,
        List<Integer> starts) {
      if (starts.size() == all.size()) {
        return valid(table, all, starts);
      }
      GpuInstanceProfile p = all.get(starts.size());
      for (int s = 0; s < table.memorySlices(); s++) {
        if (!p.placementStarts().contains(s)) {
          continue;
        }
        starts.add(s);
        boolean ok = prefixFree(all, starts) && assign(table, all, starts);
        starts.remove(starts.size() - 1);
        if (ok) {
          return true;
        }
      }
      return false;
    }

    private static boolean prefixFree(List<GpuInstanceProfile> all, List<Integer> starts) {
      boolean[] slice = new boolean[64];
      for (int i = 0; i < starts.size(); i++) {
        for (int s = starts.get(i); s < starts.get(i) + all.get(i).memorySlices(); s++) {
          if (slice[s]) {
            return false;
          }
          slice[s] = true;
        }
      }
      return true;
    }

    static boolean valid(MigProfileTable table, List<GpuInstanceProfile> all,
        List<Integer> starts) {
      if (!prefixFree(all, starts)) {
        return false;
      }
      int compute = 0;
      Map<String, Integer> counts = new TreeMap<>();
      for (int i = 0; i < all.size(); i++) {
        GpuInstanceProfile p = all.get(i);
        if (!p.placementStarts().contains(starts.get(i))
            || starts.get(i) + p.memorySlices() > table.memorySlices()) {
          return false;
        }
        compute += p.computeSlices();
        if (counts.merge(p.name(), 1, Integer::sum) > p.maxInstances()) {
          return false;
        }
      }
      return compute <= table.computeSlices();
    }

    static void assertValid(MigLayout existing, Map<String, Integer> wanted, MigPlan plan,
        String where) {
      Map<String, Integer> planned = new TreeMap<>();
      plan.creations().forEach(c -> planned.merge(c.profile().name(), 1, Integer::sum));
      Map<String, Integer> expected = new TreeMap<>(wanted);
      expected.values().removeIf(n -> n == 0);
      assertEquals(expected, planned, where + ": planned profiles");
      List<GpuInstanceProfile> all = new ArrayList<>();
      List<Integer> starts = new ArrayList<>();
      existing.instances().forEach(g -> {
        all.add(g.profile());
        starts.add(g.placement().start());
      });
      plan.creations().forEach(c -> {
        all.add(c.profile());
        starts.add(c.placement().start());
      });
      assertTrue(valid(existing.table(), all, starts), where + ": invalid plan " + plan);
      if (plan.driverOrder()) {
        // the driver's rule, restated: the highest free start the profile allows
        boolean[] used = new boolean[8];
        existing.instances().forEach(g -> mark(used, g.placement()));
        for (PlannedInstance c : plan.creations()) {
          int chosen = -1;
          for (int s : c.profile().placementStarts()) {
            boolean free = true;
            for (int k = s; k < s + c.profile().memorySlices(); k++) {
              free &= !used[k];
            }
            if (free) {
              chosen = s;
            }
          }
          assertEquals(c.placement().start(), chosen, where + ": driver order " + plan);
          mark(used, c.placement());
        }
      }
    }

    private static void mark(boolean[] used, MigPlacement at) {
      for (int k = at.start(); k < at.end(); k++) {
        used[k] = true;
      }
    }
  }
}
