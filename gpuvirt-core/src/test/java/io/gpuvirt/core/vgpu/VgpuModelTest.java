package io.gpuvirt.core.vgpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;
import org.junit.jupiter.api.Test;

final class VgpuModelTest {

  @Test
  void gpuInstanceProfileName_ofMigBackedNames_isSlicesAndGigabytes() {
    assertEquals(List.of(java.util.Optional.of("1g.18gb"), java.util.Optional.of("2g.10gb"),
        java.util.Optional.of("1g.24gb"), java.util.Optional.empty(),
        java.util.Optional.empty()), List.of(
        new VgpuType(1414, "NVIDIA H200X-1-18C", VgpuSeries.C, 18L * 1024, 7, true)
            .gpuInstanceProfileName(),
        new VgpuType(2, "NVIDIA A100-2-10CME", VgpuSeries.C, 10L * 1024, 3, true)
            .gpuInstanceProfileName(),
        new VgpuType(3, "NVIDIA RTXPro6000-1-24Q", VgpuSeries.Q, 24L * 1024, 4, true)
            .gpuInstanceProfileName(),
        VgpuType.timeSliced(1428, "NVIDIA H200X-141C", 141L * 1024, 1).gpuInstanceProfileName(),
        new VgpuType(4, "NVIDIA X-Q", VgpuSeries.Q, 1024, 1, true).gpuInstanceProfileName()));
  }

  @Test
  void parse_realL40sDump_readsIdsAndNames() {
    String dump = "ID    : vGPU Name\n1145  : NVIDIA L40S-1B\n1146  : NVIDIA L40S-2B\n"
        + "1147  : NVIDIA L40S-1Q\n2164  : NVIDIA L40S-3B\n";
    List<CreatableVgpuTypes.Entry> e = CreatableVgpuTypes.parse(dump, "vf");
    assertEquals(List.of(new CreatableVgpuTypes.Entry(1145, "NVIDIA L40S-1B"),
        new CreatableVgpuTypes.Entry(1146, "NVIDIA L40S-2B"),
        new CreatableVgpuTypes.Entry(1147, "NVIDIA L40S-1Q"),
        new CreatableVgpuTypes.Entry(2164, "NVIDIA L40S-3B")), e);
  }

  @Test
  void parse_headerOnly_isEmpty() {
    assertTrue(CreatableVgpuTypes.parse("ID    : vGPU Name\n", "vf").isEmpty());
  }

  @Test
  void parse_renderRoundTrip_isIdentity() {
    List<CreatableVgpuTypes.Entry> e = List.of(new CreatableVgpuTypes.Entry(1428, "NVIDIA H200X-141C"));
    assertEquals(e, CreatableVgpuTypes.parse(CreatableVgpuTypes.render(e), "vf"));
  }

  @Test
  void parse_malformed_namesFileAndLine() {
    for (String bad : List.of("", "1145 : NVIDIA L40S-1B\n", "ID    : vGPU Name\nx : y\n",
        "ID    : vGPU Name\n1145 NVIDIA\n", "ID    : vGPU Name\n1145 : \n",
        "ID    : vGPU Name\n0 : none\n", "ID    : vGPU Name\n1 : a\n1 : b\n")) {
      InvalidValueException ex = assertThrows(InvalidValueException.class,
          () -> CreatableVgpuTypes.parse(bad, "/sys/x/nvidia/creatable_vgpu_types"));
      assertTrue(ex.getMessage().contains("/sys/x/nvidia/creatable_vgpu_types"), ex.getMessage());
    }
  }

  @Test
  void require_idOrName_findsType() {
    VgpuTypeCatalogue c = VgpuTypeCatalogue.l40s();
    assertEquals(1146, c.require("1146").id());
    assertEquals(1146, c.require("NVIDIA L40S-2B").id());
    assertEquals(1146, c.require("L40S-2B").id());
    assertEquals(VgpuSeries.Q, c.require("1147").series());
    assertTrue(c.inferred());
  }

  @Test
  void require_unknownType_namesCardAndKnownTypes() {
    InvalidValueException ex = assertThrows(InvalidValueException.class,
        () -> VgpuTypeCatalogue.l40s().require("L40S-99Q"));
    assertTrue(ex.getMessage().contains("NVIDIA L40S") && ex.getMessage().contains("1145"));
  }

  @Test
  void h200x_migBackedType_isSeriesC() {
    VgpuType t = VgpuTypeCatalogue.h200x().require("1414");
    assertTrue(t.migBacked());
    assertEquals(VgpuSeries.C, t.series());
  }

  @Test
  void vgpuType_badFields_refused() {
    assertThrows(InvalidValueException.class, () -> VgpuType.timeSliced(0, "NVIDIA L40S-1B", 1, 1));
    assertThrows(InvalidValueException.class, () -> VgpuType.timeSliced(1, "NVIDIA L40S-1X", 1, 1));
    assertThrows(InvalidValueException.class, () -> VgpuType.timeSliced(1, "NVIDIA L40S-1B", 0, 1));
    assertThrows(InvalidValueException.class,
        () -> VgpuTypeCatalogue.of("c", List.of(VgpuType.timeSliced(1, "a-1B", 1, 1),
            VgpuType.timeSliced(1, "b-1B", 1, 1)), false));
  }
}
