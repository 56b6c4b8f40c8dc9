package io.gpuvirt.core.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciId;
import java.util.List;
import org.junit.jupiter.api.Test;

final class VfioDriverRuleTest {
  private static final PciId GB200 = new PciId(0x10de, 0x2941);
  private static final PciId B200 = new PciId(0x10de, 0x2901);

  @Test
  void standard_gb200_goesToTheGraceVariantDriver() {
    assertEquals("nvgrace_gpu_vfio_pci", VfioDriverRule.standard().driverFor(GB200));
  }

  @Test
  void standard_b200_goesToVfioPci() {
    assertEquals("vfio-pci", VfioDriverRule.standard().driverFor(B200));
  }

  @Test
  void standard_gh200AndGb300_goToTheGraceVariantDriver() {
    assertEquals(List.of("nvgrace_gpu_vfio_pci", "nvgrace_gpu_vfio_pci"),
        List.of(VfioDriverRule.standard().driverFor(new PciId(0x10de, 0x2342)),
            VfioDriverRule.standard().driverFor(new PciId(0x10de, 0x31c2))));
  }

  @Test
  void only_sendsEveryPartToOneDriver() {
    VfioDriverRule rule = VfioDriverRule.only("vfio-pci");
    assertEquals(List.of("vfio-pci", "vfio-pci"), List.of(rule.driverFor(GB200),
        rule.driverFor(B200)));
  }

  @Test
  void toBuilder_variant_addsAPart() {
    PciId b300 = new PciId(0x10de, 0x3182);
    VfioDriverRule rule = VfioDriverRule.standard().toBuilder()
        .variant(b300, "nvgrace_gpu_vfio_pci").build();
    assertEquals(List.of("nvgrace_gpu_vfio_pci", "vfio-pci"), List.of(rule.driverFor(b300),
        VfioDriverRule.standard().driverFor(b300)));
  }

  @Test
  void variant_thatIsNoVfioDriver_isRefusedNamingIt() {
    InvalidValueException e = assertThrows(InvalidValueException.class,
        () -> VfioDriverRule.builder().variant(GB200, "nvidia"));
    assertTrue(e.getMessage().contains("'nvidia' is not a VFIO driver")
        && e.getMessage().contains("10de:2941"), e.getMessage());
  }

  @Test
  void driverFor_noGpus_isTheFallback() {
    assertEquals("vfio-pci", VfioDriverRule.standard().driverFor(List.of()));
  }
}
