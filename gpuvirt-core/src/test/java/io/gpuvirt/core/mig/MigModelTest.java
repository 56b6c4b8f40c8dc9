package io.gpuvirt.core.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

final class MigModelTest {
  @Test
  void builtInTables_matchTheReference() {
    MigProfileTable b200 = MigProfileTable.b200();
    GpuInstanceProfile g3 = b200.profile("3g.90gb");
    assertEquals(9, g3.id());
    assertEquals("{0,4}:4", g3.placementText());
    assertEquals(2, g3.maxInstances());
    assertEquals(Optional.of(new MigEngines(6, 1, 0, 1, 0)), g3.engines());
    assertTrue(g3.inferred());
    assertEquals("{0,1,2,3,4,5,6}:1", b200.profile(19).placementText());
    assertEquals("{0,2,4,6}:2", b200.profile("1g.45gb").placementText());
    assertEquals("{0,2,4}:2", b200.profile("2g.45gb").placementText());
    assertEquals("{0}:4", b200.profile("4g.90gb").placementText());
    assertEquals("{0}:8", b200.profile("7g.180gb").placementText());

    GpuInstanceProfile nvl = MigProfileTable.h100Nvl94Gb().profile("3g.47gb");
    assertEquals(OptionalInt.of(60), nvl.multiprocessors());
    assertEquals(47227, nvl.memoryMiB()); // 46.12 GiB in -lgip
    assertFalse(nvl.inferred());
    assertTrue(MigProfileTable.h100Sxm80Gb().profile("4g.40gb").inferred());
    assertFalse(MigProfileTable.h100Sxm80Gb().profile("3g.40gb").inferred());
    assertEquals(7, MigProfileTable.gb200().profile("1g.24gb").maxInstances());
    assertEquals(4, MigProfileTable.h100Nvl94Gb().profile("1g.24gb").maxInstances());
  }

  @Test
  void builtInFor_findsTheTableByPciDeviceId() {
    assertEquals("B200", MigProfileTable.builtInFor(0x2901).orElseThrow().model());
    assertEquals("H100 80GB", MigProfileTable.builtInFor(0x2330).orElseThrow().model());
    assertEquals("H100 NVL 94GB", MigProfileTable.builtInFor(0x2321).orElseThrow().model());
    assertEquals("H200", MigProfileTable.builtInFor(0x2335).orElseThrow().model());
    assertEquals("GB200", MigProfileTable.builtInFor(0x2941).orElseThrow().model());
    assertTrue(MigProfileTable.builtInFor(0x1eb8).isEmpty());
  }

  @Test
  void profile_badValues_areInvalidValuesNamingTheField() {
    GpuInstanceProfile ok = MigProfileTable.b200().profile("2g.45gb");
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> new GpuInstanceProfile(14, "2g.45gb", 2, 2, 1024, OptionalInt.empty(),
            Optional.empty(), 3, List.of(0, 4, 2), false));
    assertTrue(e.getMessage().contains("placement starts [0, 4, 2] must ascend"), e.getMessage());
    e = assertThrows(InvalidValueException.class,
        () -> new GpuInstanceProfile(14, "2g.45gb", 2, 2, 1024, OptionalInt.empty(),
            Optional.empty(), 4, ok.placementStarts(), false));
    assertTrue(e.getMessage().contains("max instances 4 must be 1..3"), e.getMessage());
    e = assertThrows(InvalidValueException.class,
        () -> new GpuInstanceProfile(14, "3g.45gb", 2, 2, 1024, OptionalInt.empty(),
            Optional.empty(), 3, ok.placementStarts(), false));
    assertTrue(e.getMessage().contains("contradict the name"), e.getMessage());
    assertThrows(InvalidValueException.class, () -> GpuInstanceProfile.checkName("MIG 1g.5gb"));
    assertThrows(InvalidValueException.class, () -> GpuInstanceProfile.checkName("1g.5"));
    assertEquals("1g.24gb+me.all", GpuInstanceProfile.checkName("1g.24gb+me.all"));
  }

  @Test
  void table_duplicateProfile_isRefused() {
    GpuInstanceProfile p = MigProfileTable.b200().profile("1g.23gb");
    assertThrows(InvalidValueException.class,
        () -> new MigProfileTable("X", List.of(0x2901), 7, 8, List.of(p, p)));
  }

  @Test
  void gpuInstance_placementTheProfileDoesNotAllow_isRefused() {
    GpuInstanceProfile g3 = MigProfileTable.b200().profile("3g.90gb");
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> new GpuInstance(1, g3, new MigPlacement(2, 4)));
    assertEquals("GPU instance 1 of profile 3g.90gb cannot sit at 2:4; the profile's placements "
        + "are {0,4}:4", e.getMessage());
  }

  @Test
  void layout_overlapOrTooMany_isRefused() {
    MigProfileTable t = MigProfileTable.b200();
    GpuInstanceProfile g2 = t.profile("2g.45gb");
    GpuInstanceProfile g4 = t.profile("4g.90gb");
    MigLayout one = MigLayout.empty(t).with(new GpuInstance(1, g4, new MigPlacement(0, 4)));
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> one.with(new GpuInstance(2, g2, new MigPlacement(2, 2))));
    assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
    GpuInstanceProfile me = t.profile("1g.23gb+me");
    MigLayout withMe = MigLayout.empty(t).with(new GpuInstance(1, me, new MigPlacement(0, 1)));
    e = assertThrows(InvalidValueException.class,
        () -> withMe.with(new GpuInstance(2, me, new MigPlacement(3, 1))));
    assertTrue(e.getMessage().contains("at most 1"), e.getMessage());
    assertEquals("4-7", one.freeSlicesText());
    assertTrue(one.without(1).instances().isEmpty());
    assertThrows(InvalidValueException.class, () -> one.without(2));
  }

  @Test
  void placement_parse_readsTheLgiColumnAndRefusesGarbage() {
    assertEquals(new MigPlacement(4, 2), MigPlacement.parse(" 4:2 "));
    assertThrows(InvalidValueException.class, () -> MigPlacement.parse("4-2"));
    assertThrows(InvalidValueException.class, () -> MigPlacement.parse("x:2"));
    assertThrows(InvalidValueException.class, () -> MigPlacement.parse("4:0"));
  }

  @Test
  void migMode_pendingChange_isReported() {
    MigMode pending = new MigMode(MigMode.State.DISABLED, MigMode.State.ENABLED);
    assertTrue(pending.changePending());
    assertFalse(pending.enabled());
    assertFalse(MigMode.ENABLED.changePending());
  }

  @Test
  void computeInstance_badName_isRefused() {
    assertEquals("1c.3g.20gb", new ComputeInstance(0, 1, "1c.3g.20gb", 0).profileName());
    assertThrows(InvalidValueException.class, () -> new ComputeInstance(0, 1, "MIG 1c", 0));
  }
}
