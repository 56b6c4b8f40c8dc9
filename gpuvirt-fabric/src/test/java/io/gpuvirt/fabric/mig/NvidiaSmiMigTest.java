package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.mig.MigPlacement;
import io.gpuvirt.core.mig.MigPlanner;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.fabric.mig.NvidiaSmiMig.ComputeInstanceCreated;
import io.gpuvirt.fabric.mig.NvidiaSmiMig.ComputeInstanceDestroyed;
import io.gpuvirt.fabric.mig.NvidiaSmiMig.ComputeInstanceRow;
import io.gpuvirt.fabric.mig.NvidiaSmiMig.GpuInstanceCreated;
import io.gpuvirt.fabric.mig.NvidiaSmiMig.GpuInstanceDestroyed;
import io.gpuvirt.fabric.mig.NvidiaSmiMig.GpuInstanceRow;
import io.gpuvirt.fabric.mig.NvidiaSmiMig.PlacementRow;
import io.gpuvirt.fabric.mig.NvidiaSmiMig.ProfileRow;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** The formats of shared/reference/VGPU_MIG.md §3 and NEXT.md §3, rows as printed there. */
final class NvidiaSmiMigTest {
  // H100 NVL 94 GB -lgip: name, ID, Free/Total, GiB and SM of every row and both lines of the
  // 1g.12gb row are the reference's (S004); the engine columns of the other rows and the box lines
  // are filled in to the same layout and are not a capture.
  static final String LGIP_H100_NVL = """
      +-----------------------------------------------------------------------------+
      | GPU instance profiles:                                                      |
      | GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC  |
      |                              Free/Total   GiB              CE    JPEG  OFA  |
      |=============================================================================|
      |   0  MIG 1g.12gb       19     7/7        10.62      No     16     1     0   |
      |                                                             1     1     0   |
      +-----------------------------------------------------------------------------+
      |   0  MIG 1g.12gb+me    20     1/1        10.62      No     16     1     0   |
      |                                                             1     1     1   |
      +-----------------------------------------------------------------------------+
      |   0  MIG 1g.24gb       15     4/4        21.50      No     26     1     0   |
      |                                                             1     1     0   |
      +-----------------------------------------------------------------------------+
      |   0  MIG 2g.24gb       14     3/3        21.50      No     32     2     0   |
      |                                                             2     2     0   |
      +-----------------------------------------------------------------------------+
      |   0  MIG 3g.47gb        9     2/2        46.12      No     60     3     0   |
      |                                                             3     3     0   |
      +-----------------------------------------------------------------------------+
      |   0  MIG 4g.47gb        5     1/1        46.12      No     64     4     0   |
      |                                                             4     4     0   |
      +-----------------------------------------------------------------------------+
      |   0  MIG 7g.94gb        0     1/1        92.62      No    132     7     0   |
      |                                                             8     7     1   |
      +-----------------------------------------------------------------------------+
      """;

  static final String LGIPP = """
      GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1
      GPU  0 Profile ID 20 Placements: {0,1,2,3,4,5,6}:1
      GPU  0 Profile ID 15 Placements: {0,2,4,6}:2
      GPU  0 Profile ID 14 Placements: {0,2,4}:2
      GPU  0 Profile ID  9 Placements: {0,4}:4
      GPU  0 Profile ID  5 Placement : {0}:4
      GPU  0 Profile ID  0 Placement : {0}:8
      """;

  @Test
  void parseProfiles_h100Nvl_readsBothLinesOfEachRow() {
    List<ProfileRow> rows = NvidiaSmiMig.parseProfiles(LGIP_H100_NVL);
    assertEquals(7, rows.size());
    assertEquals(new ProfileRow(0, "1g.12gb", 19, 7, 7, new BigDecimal("10.62"), false, 16, 1, 0,
        1, 1, 0), rows.get(0));
    assertEquals("7g.94gb", rows.get(6).name());
    assertEquals(132, rows.get(6).multiprocessors());
  }

  @Test
  void parsePlacements_readsPluralAndSingularForms() {
    List<PlacementRow> rows = NvidiaSmiMig.parsePlacements(LGIPP);
    assertEquals(new PlacementRow(0, 9, List.of(0, 4), 4), rows.get(4));
    assertEquals(new PlacementRow(0, 0, List.of(0), 8), rows.get(6));
  }

  @Test
  void profileTable_fromARealDump_replacesTheBuiltInAndPlans() {
    MigProfileTable table = NvidiaSmiMig.profileTable("H100 NVL 94GB", List.of(0x2321), 0,
        NvidiaSmiMig.parseProfiles(LGIP_H100_NVL), NvidiaSmiMig.parsePlacements(LGIPP));
    MigProfileTable builtIn = MigProfileTable.h100Nvl94Gb();
    for (var p : builtIn.profiles()) {
      var q = table.profile(p.name());
      assertEquals(p.id(), q.id(), p.name());
      assertEquals(p.placementText(), q.placementText(), p.name());
      assertEquals(p.maxInstances(), q.maxInstances(), p.name());
      assertEquals(p.memoryMiB(), q.memoryMiB(), p.name());
    }
    assertEquals("9,14,19,19", MigPlanner.plan(MigLayout.empty(table),
        Map.of("1g.12gb", 2, "2g.24gb", 1, "3g.47gb", 1)).profileIdList());
  }

  @Test
  void parseGpuInstances_readsTheReferenceRow() {
    String lgi = """
        +-------------------------------------------------------+
        | GPU instances:                                        |
        | GPU   Name             Profile  Instance   Placement  |
        |                          ID       ID       Start:Size |
        |=======================================================|
        |   0  MIG 2g.24gb         14        3          0:2     |
        +-------------------------------------------------------+
        |   0  MIG 1g.12gb         19       13          6:1     |
        +-------------------------------------------------------+
        """;
    assertEquals(List.of(
        new GpuInstanceRow(0, "2g.24gb", 14, 3, new MigPlacement(0, 2)),
        new GpuInstanceRow(0, "1g.12gb", 19, 13, new MigPlacement(6, 1))),
        NvidiaSmiMig.parseGpuInstances(lgi));
  }

  @Test
  void parseComputeInstances_readsRowsWithAndWithoutPlacement() {
    String lci = """
        +--------------------------------------------------------------------+
        | Compute instances:                                                 |
        | GPU     GPU       Name             Profile   Instance   Placement  |
        |       Instance                       ID        ID       Start:Size |
        |         ID                                                         |
        |====================================================================|
        |   0      1       MIG 1c.3g.20gb       0         0          0:1     |
        +--------------------------------------------------------------------+
        |   0      2       MIG 3g.20gb          2         0                  |
        +--------------------------------------------------------------------+
        """;
    assertEquals(List.of(
        new ComputeInstanceRow(0, 1, "1c.3g.20gb", 0, 0, Optional.of(new MigPlacement(0, 1))),
        new ComputeInstanceRow(0, 2, "3g.20gb", 2, 0, Optional.empty())),
        NvidiaSmiMig.parseComputeInstances(lci));
  }

  @Test
  void parseMessages_createAndDestroy_readIdsFromTheDriver() {
    String out = """
        Successfully created GPU instance ID  2 on GPU  0 using profile MIG 3g.20gb (ID  9)
        Successfully created compute instance ID  0 on GPU  0 GPU instance ID  2 using profile MIG 3g.20gb (ID  2)
        Successfully created GPU instance ID 13 on GPU  0 using profile MIG 1g.5gb (ID 19)
        Successfully created compute instance on GPU  0 GPU instance ID  1 using profile MIG 1c.3g.20gb (ID  0)
        Successfully destroyed compute instance ID  0 from GPU  0 GPU instance ID  1
        Successfully destroyed GPU instance ID  1 from GPU  0
        """;
    assertEquals(List.of(
        new GpuInstanceCreated(0, 2, "3g.20gb", 9),
        new ComputeInstanceCreated(0, 2, OptionalInt.of(0), "3g.20gb", 2),
        new GpuInstanceCreated(0, 13, "1g.5gb", 19),
        new ComputeInstanceCreated(0, 1, OptionalInt.empty(), "1c.3g.20gb", 0),
        new ComputeInstanceDestroyed(0, 1, 0),
        new GpuInstanceDestroyed(0, 1)),
        NvidiaSmiMig.parseMessages("mig -cgi 9,19 -C", out));
  }

  @Test
  void parseMessages_aFailureLine_isQuotedInATypedError() {
    NvidiaSmiFormatException e = assertThrows(NvidiaSmiFormatException.class,
        () -> NvidiaSmiMig.parseMessages("mig -cgi 9",
            "Unable to create a GPU instance on GPU  0 using profile 9: Insufficient Resources\n"));
    assertTrue(e.getMessage().startsWith("nvidia-smi mig -cgi 9 output line 1: not a MIG success "
        + "message: 'Unable to create a GPU instance on GPU  0 using profile 9: Insufficient "
        + "Resources'"), e.getMessage());
  }

  @Test
  void garbledTables_areTypedErrorsNamingTheLine() {
    // a row cut short
    String cut = LGIP_H100_NVL.replace("|   0  MIG 3g.47gb        9     2/2        46.12      No"
        + "     60     3     0   |", "|   0  MIG 3g.47gb        9     2/2   |");
    NvidiaSmiFormatException e = assertThrows(NvidiaSmiFormatException.class,
        () -> NvidiaSmiMig.parseProfiles(cut));
    assertTrue(e.getMessage().startsWith("nvidia-smi mig -lgip output line 18: expected a profile "
        + "row"), e.getMessage());
    // the second line of a row missing
    String half = String.join("\n", LGIP_H100_NVL.lines().limit(6).toList());
    assertTrue(assertThrows(NvidiaSmiFormatException.class, () -> NvidiaSmiMig.parseProfiles(half))
        .getMessage().contains("without its second line"));
    // no header
    assertThrows(NvidiaSmiFormatException.class, () -> NvidiaSmiMig.parseGpuInstances(
        "|   0  MIG 2g.24gb         14        3          0:2     |\n"));
    // another command's table
    assertTrue(assertThrows(NvidiaSmiFormatException.class,
        () -> NvidiaSmiMig.parseGpuInstances(LGIP_H100_NVL)).getMessage()
        .contains("does not have the column Start:Size"));
    // a bad placement and a bad name
    assertThrows(NvidiaSmiFormatException.class, () -> NvidiaSmiMig.parseGpuInstances("""
        | GPU   Name             Profile  Instance   Placement  |
        |                          ID       ID       Start:Size |
        |=======================================================|
        |   0  MIG 2g.24gb         14        3          0:0     |
        """));
    assertThrows(NvidiaSmiFormatException.class, () -> NvidiaSmiMig.parseGpuInstances("""
        | GPU   Name             Profile  Instance   Placement  |
        |                          ID       ID       Start:Size |
        |=======================================================|
        |   0  MIG 2g.24gb;rm      14        3          0:2     |
        """));
    assertThrows(NvidiaSmiFormatException.class,
        () -> NvidiaSmiMig.parsePlacements("GPU  0 Profile ID  9 Placements: {4,0}:4\n"));
    assertThrows(NvidiaSmiFormatException.class,
        () -> NvidiaSmiMig.parsePlacements("GPU  0 Profile ID  9 Placements: {0,4}\n"));
  }
}
