package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpuvirt.core.mig.ComputeInstance;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigBackendException;
import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.core.mig.MigProfileTable;
import io.gpuvirt.testkit.SimulatedHost;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded differential scenarios: two identical simulated HGX B200 hosts, one driven only through
 * the fake NVML, the other only through the simulated nvidia-smi, take the same random operations
 * (modes, resets, creates, destroys on two GPUs). After every step both must have answered alike
 * (success, or the same driver refusal) and hold the same modes, GPU instances and compute
 * instances: the gcc-built NVML behaves as the simulated driver does. A failure names the seed and
 * the step.
 */
final class NvmlDifferentialTest {
  private static final MigProfileTable B200 = MigProfileTable.b200();
  private static final int STEPS = 40;

  /** What an operation's outcome says, comparable across the two backends. */
  private static String outcome(Runnable op) {
    try {
      op.run();
      return "ok";
    } catch (MigBackendException e) {
      String m = e.getMessage();
      return m.contains("Insufficient Resources") ? "Insufficient Resources"
          : m.contains("In use by another client") ? "In use" : "refused";
    }
  }

  /** Modes of every GPU, and GPU and compute instances of the GPUs with MIG on. */
  private static List<Object> view(MigBackend mig) {
    List<Object> out = new ArrayList<>();
    for (MigGpu g : mig.gpus()) {
      out.add(g);
      if (g.mode().enabled() && g.index() < 2) {
        out.add(mig.layout(g.index(), B200));
        out.add(mig.computeInstances(g.index()));
      }
    }
    return out;
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4})
  void randomOperations_throughNvmlAndThroughNvidiaSmi_leaveTheSameDriverState(long seed) {
    try (SimulatedHost a = SimulatedHost.hgxB200(); SimulatedHost b = SimulatedHost.hgxB200();
        NvmlMigBackend nvml = NvmlFixture.open(a)) {
      MigBackend smi = NvmlFixture.smi(b);
      SplittableRandom random = new SplittableRandom(seed);
      for (int step = 0; step < STEPS; step++) {
        int gpu = random.nextInt(2);
        int kind = random.nextInt(10);
        GpuInstanceProfile profile = B200.profiles().get(random.nextInt(B200.profiles().size()));
        boolean on = random.nextInt(4) != 0;
        int pick = random.nextInt(1 << 16);
        String what = "seed " + seed + " step " + step + " GPU " + gpu + " op " + kind;
        List<Object> before = view(smi);
        String viaNvml = outcome(() -> operate(nvml, kind, gpu, profile, on, pick));
        String viaSmi = outcome(() -> operate(smi, kind, gpu, profile, on, pick));

        assertEquals(viaSmi, viaNvml, what + " on " + before);
        assertEquals(view(smi), view(nvml), what);
      }
    }
  }

  private static void operate(MigBackend mig, int kind, int gpu, GpuInstanceProfile profile,
      boolean on, int pick) {
    boolean enabled = mig.gpus().get(gpu).mode().enabled();
    switch (kind) {
      case 0 -> mig.setMode(gpu, on);
      case 1 -> mig.reset(gpu);
      case 2, 3, 4, 5 -> mig.createGpuInstance(gpu, profile);
      case 6, 7 -> {
        List<ComputeInstance> cis = enabled ? mig.computeInstances(gpu) : List.of();
        if (!cis.isEmpty()) {
          ComputeInstance ci = cis.get(pick % cis.size());
          mig.destroyComputeInstance(gpu, ci.gpuInstanceId(), ci.id());
        }
      }
      default -> {
        List<GpuInstance> gis = enabled ? mig.layout(gpu, B200).instances() : List.of();
        if (!gis.isEmpty()) {
          mig.destroyGpuInstance(gpu, gis.get(pick % gis.size()).id());
        }
      }
    }
  }
}
