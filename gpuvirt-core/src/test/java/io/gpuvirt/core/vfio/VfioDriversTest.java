package io.gpuvirt.core.vfio;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class VfioDriversTest {
  @ParameterizedTest
  @ValueSource(strings = {"vfio-pci", "nvgrace-gpu-vfio-pci", "nvgrace_gpu_vfio_pci",
      "mlx5_vfio_pci", "hisi_acc_vfio_pci"})
  void isVfioDriver_vfioAndVariants_true(String driver) {
    assertTrue(VfioDrivers.isVfioDriver(driver));
  }

  @ParameterizedTest
  @ValueSource(strings = {"nvidia", "nouveau", "snd_hda_intel", "nvme", "vfio", "vfio-pci-x",
      "mlx5_core", "pcieport"})
  void isVfioDriver_hostDrivers_false(String driver) {
    assertFalse(VfioDrivers.isVfioDriver(driver));
  }
}
