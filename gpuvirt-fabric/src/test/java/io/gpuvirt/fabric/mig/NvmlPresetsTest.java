package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * On every simulated host with NVIDIA GPUs, NVML and nvidia-smi list the same MIG-capable GPUs
 * with the same indices: GPUs without MIG (a workstation's, an L40S) are counted for the index but
 * not listed, as NVML's NOT_SUPPORTED and nvidia-smi's [N/A] mode say.
 */
final class NvmlPresetsTest {
  static Stream<Arguments> hosts() {
    return Stream.of(
        Arguments.of("hgxH100", (Supplier<SimulatedHost>) SimulatedHost::hgxH100, 8),
        Arguments.of("workstation", (Supplier<SimulatedHost>) SimulatedHost::workstation, 0),
        Arguments.of("l40sVgpu", (Supplier<SimulatedHost>) SimulatedHost::l40sVgpu, 0));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hosts")
  void gpus_nvmlAndNvidiaSmi_listTheSameMigGpus(String name, Supplier<SimulatedHost> preset,
      int migGpus) {
    try (SimulatedHost host = preset.get(); NvmlMigBackend nvml = NvmlFixture.open(host)) {
      List<MigGpu> viaNvml = nvml.gpus();

      assertEquals(NvmlFixture.smi(host).gpus(), viaNvml);
      assertEquals(migGpus, viaNvml.size(), name);
    }
  }
}
