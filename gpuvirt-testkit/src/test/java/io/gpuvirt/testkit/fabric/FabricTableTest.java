package io.gpuvirt.testkit.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.PartitionGpu;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

final class FabricTableTest {
  private static Map<Integer, Set<Integer>> moduleIdsById(FabricTable t) {
    return t.partitions().stream().collect(Collectors.toMap(FabricPartition::id,
        FabricPartition::moduleIds, (a, b) -> a, TreeMap::new));
  }

  @Test
  void hgxB200_matchesTheUserGuideTable() {
    assertEquals(Map.ofEntries(Map.entry(1, Set.of(1, 2, 3, 4, 5, 6, 7, 8)),
        Map.entry(2, Set.of(1, 2, 3, 4)), Map.entry(3, Set.of(5, 6, 7, 8)),
        Map.entry(4, Set.of(1, 2)), Map.entry(5, Set.of(3, 4)), Map.entry(6, Set.of(5, 6)),
        Map.entry(7, Set.of(7, 8)), Map.entry(8, Set.of(1)), Map.entry(9, Set.of(2)),
        Map.entry(10, Set.of(3)), Map.entry(11, Set.of(4)), Map.entry(12, Set.of(5)),
        Map.entry(13, Set.of(6)), Map.entry(14, Set.of(7)), Map.entry(15, Set.of(8))),
        moduleIdsById(FabricTable.hgxB200()));
  }

  @Test
  void hgxH100_matchesTheUserGuideTable() {
    assertEquals(Map.ofEntries(Map.entry(0, Set.of(1, 2, 3, 4, 5, 6, 7, 8)),
        Map.entry(1, Set.of(1, 2, 3, 4)), Map.entry(2, Set.of(5, 6, 7, 8)),
        Map.entry(3, Set.of(1, 3)), Map.entry(4, Set.of(2, 4)), Map.entry(5, Set.of(5, 7)),
        Map.entry(6, Set.of(6, 8)), Map.entry(7, Set.of(1)), Map.entry(8, Set.of(2)),
        Map.entry(9, Set.of(3)), Map.entry(10, Set.of(4)), Map.entry(11, Set.of(5)),
        Map.entry(12, Set.of(6)), Map.entry(13, Set.of(7)), Map.entry(14, Set.of(8))),
        moduleIdsById(FabricTable.hgxH100()));
  }

  @Test
  void hgxB200_singleGpuPartitions_haveNvlinkOff() {
    assertEquals(Set.of(0), FabricTable.hgxB200().partitionsOfSize(1).stream()
        .flatMap(p -> p.gpus().stream()).map(PartitionGpu::nvlinksAvailable)
        .collect(Collectors.toSet()));
  }

  @Test
  void partitionsOfSize_hgxB200_oneEightTwoFoursFourPairsEightSingles() {
    FabricTable t = FabricTable.hgxB200();
    assertEquals(List.of(1, 2, 4, 8), List.of(t.partitionsOfSize(8).size(),
        t.partitionsOfSize(4).size(), t.partitionsOfSize(2).size(),
        t.partitionsOfSize(1).size()));
  }

  @Test
  void new_duplicateId_refused() {
    FabricPartition p = new FabricPartition(1, false, List.of(new PartitionGpu(1, 0, 18, 0)));
    assertThrows(InvalidValueException.class, () -> new FabricTable("x", List.of(p, p)));
  }

  @Test
  void new_idBeyondLibnvfmArrays_refused() {
    FabricPartition p = new FabricPartition(64, false, List.of(new PartitionGpu(1, 0, 18, 0)));
    assertThrows(InvalidValueException.class, () -> new FabricTable("x", List.of(p)));
  }
}
