package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.mig.ComputeInstance;
import io.gpuvirt.core.mig.GpuInstance;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.core.mig.MigGpu;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import io.gpuvirt.core.mig.MigProfileTable;
import java.util.List;

/**
 * A {@link MigBackend} that forwards to a real one and calls {@link #before} and {@link #after}
 * around each call that changes a GPU (mode, reset, create, destroy): where the fault and crash
 * tests inject their failure. Reads pass straight through.
 */
abstract class SteppingMigBackend implements MigBackend {
  private final MigBackend real;

  SteppingMigBackend(MigBackend real) {
    this.real = real;
  }

  /** Before a change named {@code step}; may throw to fail it (nothing changed). */
  abstract void before(String step);

  /** After the change named {@code step} was made; may throw (the change stays). */
  void after(String step) {}

  @Override
  public List<MigGpu> gpus() {
    return real.gpus();
  }

  @Override
  public MigMode setMode(int gpu, boolean enabled) {
    before("setMode");
    MigMode mode = real.setMode(gpu, enabled);
    after("setMode");
    return mode;
  }

  @Override
  public void reset(int gpu) {
    before("reset");
    real.reset(gpu);
    after("reset");
  }

  @Override
  public MigLayout layout(int gpu, MigProfileTable table) {
    return real.layout(gpu, table);
  }

  @Override
  public List<ComputeInstance> computeInstances(int gpu) {
    return real.computeInstances(gpu);
  }

  @Override
  public GpuInstance createGpuInstance(int gpu, GpuInstanceProfile profile) {
    before("create");
    GpuInstance gi = real.createGpuInstance(gpu, profile);
    after("create");
    return gi;
  }

  @Override
  public void destroyComputeInstance(int gpu, int gpuInstanceId, int computeInstanceId) {
    before("destroyCi");
    real.destroyComputeInstance(gpu, gpuInstanceId, computeInstanceId);
    after("destroyCi");
  }

  @Override
  public void destroyGpuInstance(int gpu, int gpuInstanceId) {
    before("destroyGi");
    real.destroyGpuInstance(gpu, gpuInstanceId);
    after("destroyGi");
  }
}
