package io.gpuvirt.core.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class MigPlannerTest {
  private static final MigProfileTable H100 = MigProfileTable.h100Sxm80Gb();
  private static final MigProfileTable B200 = MigProfileTable.b200();

  /** Creates the profile ids in order the way the driver does without placements. */
  private static Optional<MigLayout> createInOrder(MigLayout start, int... profileIds) {
    MigLayout layout = start;
    int nextId = 1;
    for (int id : profileIds) {
      GpuInstanceProfile p = layout.table().profile(id);
      Optional<MigPlacement> at = layout.driverPlacement(p);
      if (at.isEmpty()) {
        return Optional.empty(); // "Insufficient Resources"
      }
      layout = layout.with(new GpuInstance(nextId++, p, at.get()));
    }
    return Optional.of(layout);
  }

  @Test
  void createInGivenOrder_19_19_14_9onH100_failsLikeTheDriver() {
    // MIG user guide: 19,19,14,9 fails with "Insufficient Resources"; 9 must come first.
    assertTrue(createInOrder(MigLayout.empty(H100), 19, 19, 14, 9).isEmpty());
    assertTrue(createInOrder(MigLayout.empty(H100), 9, 19, 14, 19).isPresent());
  }

  @Test
  void plan_19_19_14_9onH100_ordersCreationSoTheDriverSucceeds() {
    MigPlan plan = MigPlanner.plan(MigLayout.empty(H100),
        Map.of("1g.10gb", 2, "2g.20gb", 1, "3g.40gb", 1));

    assertTrue(plan.driverOrder());
    assertEquals("9,14,19,19", plan.profileIdList());
    int[] ids = plan.creations().stream().mapToInt(p -> p.profile().id()).toArray();
    MigLayout made = createInOrder(MigLayout.empty(H100), ids).orElseThrow();
    for (PlannedInstance p : plan.creations()) {
      assertTrue(made.instances().stream().anyMatch(
          g -> g.profile().equals(p.profile()) && g.placement().equals(p.placement())), "" + p);
    }
    assertEquals(0xffL, plan.usedMask());
  }

  @Test
  void plan_b200Balanced_placesLargeFirstAndFillsTheGpu() {
    MigPlan plan = MigPlanner.plan(MigLayout.empty(B200),
        Map.of("1g.23gb", 2, "2g.45gb", 1, "3g.90gb", 1));

    assertEquals(List.of("3g.90gb@4:4", "2g.45gb@2:2", "1g.23gb@1:1", "1g.23gb@0:1"),
        plan.creations().stream().map(PlannedInstance::toString).toList());
  }

  @Test
  void plan_oneSmallInstance_keepsBothLargePlacementsUsableWhereItCan() {
    MigPlan plan = MigPlanner.plan(MigLayout.empty(B200), Map.of("1g.23gb", 1));

    // At 6:1 the 4g (0:4), a 3g (0:4) and all three 2g placements stay free.
    assertEquals(List.of("1g.23gb@6:1"), plan.creations().stream().map(Object::toString).toList());
  }

  @Test
  void plan_besideExistingInstances_usesOnlyFreeSlices() {
    GpuInstanceProfile g3 = B200.profile("3g.90gb");
    MigLayout existing = MigLayout.empty(B200).with(new GpuInstance(2, g3, new MigPlacement(4, 4)));

    MigPlan plan = MigPlanner.plan(existing, Map.of("2g.45gb", 2));

    assertEquals(List.of("2g.45gb@2:2", "2g.45gb@0:2"),
        plan.creations().stream().map(Object::toString).toList());
    assertTrue(plan.driverOrder());
  }

  @Test
  void plan_besideAnInstanceThatBlocksThePlacements_namesWhatIsLeft() {
    GpuInstanceProfile g3 = B200.profile("3g.90gb");
    MigLayout existing = MigLayout.empty(B200).with(new GpuInstance(2, g3, new MigPlacement(0, 4)));

    MigPlanException e = assertThrows(MigPlanException.class,
        () -> MigPlanner.plan(existing, Map.of("2g.45gb", 2)));

    assertTrue(e.getMessage().endsWith("2g.45gb needs 2 contiguous memory slices starting at one "
        + "of 0, 2, 4; free after [2g.45gb@4:2]: 6-7; destroy instances or ask for fewer"),
        e.getMessage());
  }

  @Test
  void plan_noContiguousBlock_saysWhichProfileNeedsWhatAndWhatIsFree() {
    GpuInstanceProfile g1 = B200.profile("1g.23gb");
    MigLayout existing = MigLayout.empty(B200)
        .with(new GpuInstance(7, g1, new MigPlacement(1, 1)))
        .with(new GpuInstance(8, g1, new MigPlacement(5, 1)));

    MigPlanException e = assertThrows(MigPlanException.class,
        () -> MigPlanner.plan(existing, Map.of("3g.90gb", 1)));

    assertEquals("cannot place {1 x 3g.90gb} beside [1g.23gb@1:1, 1g.23gb@5:1] on B200: "
        + "3g.90gb needs 4 contiguous memory slices starting at one of 0, 4; free: 0, 2-4, 6-7; "
        + "destroy instances or ask for fewer", e.getMessage());
  }

  @Test
  void plan_tooManyOfOneProfile_namesTheMaximum() {
    MigPlanException e = assertThrows(MigPlanException.class,
        () -> MigPlanner.plan(MigLayout.empty(B200), Map.of("3g.90gb", 3)));
    assertTrue(e.getMessage().contains("3 instances of 3g.90gb wanted in all, B200 allows at most 2"),
        e.getMessage());
  }

  @Test
  void plan_tooManyComputeSlices_saysSo() {
    MigPlanException e = assertThrows(MigPlanException.class,
        () -> MigPlanner.plan(MigLayout.empty(B200), Map.of("4g.90gb", 1, "2g.45gb", 2)));
    assertTrue(e.getMessage().contains("need 8 compute slices, the GPU has 7"), e.getMessage());
  }

  @Test
  void plan_unknownProfile_isAnInvalidValueNamingTheModelsProfiles() {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> MigPlanner.plan(MigLayout.empty(B200), Map.of("1g.10gb", 1)));
    assertTrue(e.getMessage().startsWith("MIG profile '1g.10gb' does not exist on B200; its "
        + "profiles are 1g.23gb, 1g.23gb+me"), e.getMessage());
  }

  @Test
  void plan_negativeCount_isAnInvalidValue() {
    assertThrows(InvalidValueException.class,
        () -> MigPlanner.plan(MigLayout.empty(B200), Map.of("1g.23gb", -1)));
  }

  @Test
  void plan_nothingWanted_isAnEmptyPlan() {
    MigPlan plan = MigPlanner.plan(MigLayout.empty(B200), Map.of("1g.23gb", 0));
    assertTrue(plan.creations().isEmpty());
    assertEquals("", plan.profileIdList());
  }

  @Test
  void plan_sameInputTwice_givesTheSamePlan() {
    Map<String, Integer> wanted = Map.of("1g.23gb", 3, "1g.45gb", 1, "2g.45gb", 1);
    assertEquals(MigPlanner.plan(MigLayout.empty(B200), wanted),
        MigPlanner.plan(MigLayout.empty(B200), wanted));
  }
}
