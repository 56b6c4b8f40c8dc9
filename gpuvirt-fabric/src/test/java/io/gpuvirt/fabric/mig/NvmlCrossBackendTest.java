package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fake NVML and the simulated nvidia-smi are two views of one simulated driver: what one
 * backend does, the other sees, and each refuses what the other made impossible.
 */
final class NvmlCrossBackendTest {
  private static final MigProfileTable B200 = MigProfileTable.b200();
  private SimulatedHost host;
  private NvmlMigBackend nvml;
  private NvidiaSmiMigBackend smi;

  @BeforeEach
  void b200() {
    host = SimulatedHost.hgxB200();
    nvml = NvmlFixture.open(host);
    smi = NvmlFixture.smi(host);
  }

  @AfterEach
  void close() {
    nvml.close();
    host.close();
  }

  @Test
  void setMode_throughNvml_isPendingInNvidiaSmiUntilNvidiaSmiResets() {
    nvml.setMode(2, true);
    MigMode pending = smi.gpus().get(2).mode();
    smi.reset(2);

    assertEquals(new MigMode(MigMode.State.DISABLED, MigMode.State.ENABLED), pending);
    assertEquals(MigMode.ENABLED, nvml.gpus().get(2).mode());
  }

  @Test
  void createGpuInstance_throughNvml_isListedByNvidiaSmiWithTheSameIdsAndPlacements() {
    smi.setMode(0, true);
    smi.reset(0);

    GpuInstance a = nvml.createGpuInstance(0, B200.profile("4g.90gb"));
    GpuInstance b = nvml.createGpuInstance(0, B200.profile("1g.23gb"));

    assertEquals(List.of(a, b), smi.layout(0, B200).instances().stream()
        .sorted(java.util.Comparator.comparingInt(GpuInstance::id)).toList());
    assertEquals(nvml.computeInstances(0), smi.computeInstances(0));
  }

  @Test
  void createGpuInstance_throughNvidiaSmi_isListedByNvml() {
    nvml.setMode(1, true);
    nvml.reset(1);
    smi.createGpuInstance(1, B200.profile("3g.90gb"));
    smi.createGpuInstance(1, B200.profile("2g.45gb"));

    assertEquals(smi.layout(1, B200), nvml.layout(1, B200));
    assertEquals(smi.computeInstances(1), nvml.computeInstances(1));
  }

  @Test
  void createGpuInstance_afterTheOtherFilledTheGpu_isInsufficientResources() {
    smi.setMode(0, true);
    smi.reset(0);
    smi.createGpuInstance(0, B200.profile("3g.90gb"));
    nvml.createGpuInstance(0, B200.profile("3g.90gb"));

    MigBackendException viaSmi = assertThrows(MigBackendException.class,
        () -> smi.createGpuInstance(0, B200.profile("1g.23gb")));
    MigBackendException viaNvml = assertThrows(MigBackendException.class,
        () -> nvml.createGpuInstance(0, B200.profile("1g.23gb")));

    assertTrue(viaSmi.getMessage().contains("Insufficient Resources"), viaSmi.getMessage());
    assertTrue(viaNvml.getMessage().contains("Insufficient Resources"), viaNvml.getMessage());
  }

  @Test
  void destroy_throughNvml_ofWhatNvidiaSmiMade_leavesTheGpuEmptyForBoth() {
    smi.setMode(3, true);
    smi.reset(3);
    smi.createGpuInstance(3, B200.profile("2g.45gb"));
    int gi = smi.layout(3, B200).instances().get(0).id();

    nvml.destroyComputeInstance(3, gi, smi.computeInstances(3).get(0).id());
    nvml.destroyGpuInstance(3, gi);

    assertEquals(List.of(), smi.layout(3, B200).instances());
    assertEquals(List.of(), nvml.layout(3, B200).instances());
  }

  /** Fills GPU {@code gpu} with 1g.23gb and empties it {@code rounds} times, then fills it. */
  private static void churn(io.gpuvirt.core.mig.MigBackend mig, int gpu, int rounds) {
    for (int round = 0; round <= rounds; round++) {
      for (int i = 0; i < 7; i++) {
        mig.createGpuInstance(gpu, B200.profile("1g.23gb"));
      }
      if (round == rounds) {
        return;
      }
      for (io.gpuvirt.core.mig.ComputeInstance ci : mig.computeInstances(gpu)) {
        mig.destroyComputeInstance(gpu, ci.gpuInstanceId(), ci.id());
        mig.destroyGpuInstance(gpu, ci.gpuInstanceId());
      }
    }
  }

  @Test
  void changes_throughBothAtOnce_loseNoUpdate() throws Exception {
    smi.setMode(0, true);
    smi.setMode(1, true);
    smi.reset(0);
    smi.reset(1);
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors
        .newFixedThreadPool(2);
    try {
      java.util.concurrent.Future<?> viaNvml = pool.submit(() -> churn(nvml, 0, 3));
      java.util.concurrent.Future<?> viaSmi = pool.submit(() -> churn(smi, 1, 3));
      viaNvml.get();
      viaSmi.get();
    } finally {
      pool.shutdownNow();
    }

    assertEquals(List.of(7, 7), List.of(smi.layout(0, B200).instances().size(),
        nvml.layout(1, B200).instances().size()));
  }

  @Test
  void reset_throughNvidiaSmi_destroysWhatNvmlMade() {
    nvml.setMode(0, true);
    nvml.reset(0);
    nvml.createGpuInstance(0, B200.profile("7g.180gb"));

    smi.reset(0);

    assertEquals(List.of(), nvml.layout(0, B200).instances());
    assertEquals(List.of(), nvml.computeInstances(0));
  }
}
