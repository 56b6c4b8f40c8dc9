package io.gpuvirt.core.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The default methods of the port, against a tiny fake that answers like a 535 or 610 FM. */
final class FabricManagerDefaultsTest {

  /** Two partitions sharing module id 1: 0 = {1,2}, 1 = {1}. */
  private static final class TinyFm implements FabricManager {
    final boolean gen610;
    final List<Integer> active = new ArrayList<>();

    TinyFm(boolean gen610) {
      this.gen610 = gen610;
    }

    @Override
    public List<FabricPartition> listPartitions() {
      return List.of(
          new FabricPartition(0, active.contains(0),
              List.of(new PartitionGpu(1, 18, 18, 0), new PartitionGpu(2, 18, 18, 0))),
          new FabricPartition(1, active.contains(1), List.of(new PartitionGpu(1, 0, 18, 0))));
    }

    @Override
    public void activate(int id) {
      if (active.contains(id)) {
        throw new FabricManagerException("activate", gen610 ? FmReturnCode.PARTITION_ID_IN_USE
            : FmReturnCode.IN_USE, "active");
      }
      if (!active.isEmpty()) {
        throw new FabricManagerException("activate", FmReturnCode.IN_USE, "overlap");
      }
      active.add(id);
    }

    @Override
    public void deactivate(int id) {
      if (!active.remove((Integer) id)) {
        throw new FabricManagerException("deactivate", gen610
            ? FmReturnCode.PARTITION_ID_NOT_IN_USE : FmReturnCode.UNINITIALIZED, "inactive");
      }
    }

    @Override
    public void setActivatedPartitions(Collection<Integer> ids) {
      active.clear();
      active.addAll(ids);
    }

    @Override
    public List<Integer> unsupportedPartitionIds() {
      return List.of();
    }

    @Override
    public void close() {}
  }

  @Test
  void ensureActive_alreadyActive610_returnsFalse() {
    TinyFm fm = new TinyFm(true);
    fm.activate(0);
    assertFalse(fm.ensureActive(0));
  }

  @Test
  void ensureActive_alreadyActive535_returnsFalse() {
    TinyFm fm = new TinyFm(false);
    fm.activate(0);
    assertFalse(fm.ensureActive(0));
  }

  @Test
  void ensureActive_overlapping535_stillRefusedWithInUse() {
    TinyFm fm = new TinyFm(false);
    fm.activate(0);
    FabricManagerException e = assertThrows(FabricManagerException.class,
        () -> fm.ensureActive(1));
    assertEquals(FmReturnCode.IN_USE, e.returnCode());
  }

  @Test
  void ensureActive_inactive_activatesAndReturnsTrue() {
    TinyFm fm = new TinyFm(true);
    assertTrue(fm.ensureActive(1) && fm.isActive(1));
  }

  @Test
  void ensureInactive_alreadyInactive_returnsFalseForBothGenerations() {
    assertFalse(new TinyFm(true).ensureInactive(0) || new TinyFm(false).ensureInactive(0));
  }

  @Test
  void isActive_unknownPartition_refusedWithBadparam() {
    FabricManagerException e = assertThrows(FabricManagerException.class,
        () -> new TinyFm(true).isActive(7));
    assertEquals(FmReturnCode.BADPARAM, e.returnCode());
  }

  @Test
  void nvlinkFailedDevices_byDefault_none() {
    assertTrue(new TinyFm(true).nvlinkFailedDevices().isEmpty());
  }
}
