package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The JNA structs have the x86_64 sizes and offsets of {@code nvml.h} (VGPU_MIG.md §5): a field
 * written from Java lands at the offset the C library reads it from.
 */
final class NvmlMigStructsTest {
  @Test
  void sizes_matchNvmlH() {
    assertEquals(68, new NvmlMigLibrary.PciInfo().size());
    assertEquals(48, new NvmlMigLibrary.GpuInstanceProfileInfo().size());
    assertEquals(24, new NvmlMigLibrary.GpuInstanceInfo().size());
    assertEquals(36, new NvmlMigLibrary.ComputeInstanceProfileInfo().size());
    assertEquals(32, new NvmlMigLibrary.ComputeInstanceInfo().size());
  }

  @Test
  void gpuInstanceProfileInfo_memorySizeMbIsAtOffset40() {
    NvmlMigLibrary.GpuInstanceProfileInfo info = new NvmlMigLibrary.GpuInstanceProfileInfo();
    info.ofaCount = 0x0a0b0c0d;
    info.memorySizeMB = 0x1122334455667788L;

    assertEquals(0x0a0b0c0d, written(info).getInt(36));
    assertEquals(0x1122334455667788L, written(info).getLong(40));
  }

  @Test
  void gpuInstanceInfo_idAt8AndPlacementAt16() {
    NvmlMigLibrary.GpuInstanceInfo info = new NvmlMigLibrary.GpuInstanceInfo();
    info.id = 3;
    info.profileId = 14;
    info.placementStart = 4;
    info.placementSize = 2;

    Pointer p = written(info);
    assertEquals(List.of(3, 14, 4, 2), List.of(p.getInt(8), p.getInt(12), p.getInt(16),
        p.getInt(20)));
  }

  @Test
  void computeInstanceInfo_idAt16AndPlacementAt24() {
    NvmlMigLibrary.ComputeInstanceInfo info = new NvmlMigLibrary.ComputeInstanceInfo();
    info.id = 1;
    info.profileId = 2;
    info.placementStart = 0;
    info.placementSize = 3;

    Pointer p = written(info);
    assertEquals(List.of(1, 2, 0, 3), List.of(p.getInt(16), p.getInt(20), p.getInt(24),
        p.getInt(28)));
  }

  @Test
  void pciInfo_deviceIdAt28AndBusIdAt36() {
    NvmlMigLibrary.PciInfo info = new NvmlMigLibrary.PciInfo();
    info.pciDeviceId = 0x290110de;
    info.busId[0] = 'X';

    assertEquals(0x290110de, written(info).getInt(28));
    assertEquals('X', written(info).getByte(36));
  }

  private static Pointer written(Structure s) {
    s.write();
    return s.getPointer();
  }
}
