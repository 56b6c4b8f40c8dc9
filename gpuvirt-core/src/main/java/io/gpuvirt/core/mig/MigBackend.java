package io.gpuvirt.core.mig;

import java.util.List;

/**
 * The port to a GPU driver's MIG controls: what {@code nvidia-smi mig} and NVML both offer, in
 * the terms of the core model. gpuvirt-fabric implements it over {@code nvidia-smi} (through the
 * {@code CommandRunner} seam) and over NVML (through JNA); the testkit simulates the driver behind
 * both. Every implementation passes the same contract suite.
 *
 * <p>Ids are the driver's: a created GPU instance's id and placement are read back from the
 * driver, never predicted. GPUs are named by their index ({@link MigGpu#index()}).
 *
 * <p>Failures are {@link MigBackendException}s naming the GPU, the operation and the driver's
 * answer ("Insufficient Resources", "In use by another client"); an operation that failed changed
 * nothing on the GPU.
 */
public interface MigBackend {

  /** Every GPU the driver controls, by index. */
  List<MigGpu> gpus();

  /**
   * Asks for MIG on ({@code true}) or off. Where the GPU needs a reset for the change, the
   * returned mode shows it pending; {@link #reset} applies it.
   *
   * @return the GPU's mode after the request
   */
  MigMode setMode(int gpu, boolean enabled);

  /**
   * Resets the GPU: a pending mode change takes effect and every GPU and compute instance is gone
   * (instances do not survive a reset). Refused while a process uses the GPU.
   */
  void reset(int gpu);

  /** The GPU instances on the GPU, with profiles from {@code table} (the GPU's model's). */
  MigLayout layout(int gpu, MigProfileTable table);

  /** The compute instances on the GPU, by GPU instance then id. */
  List<ComputeInstance> computeInstances(int gpu);

  /**
   * Creates a GPU instance of {@code profile} where the driver places it, with its default
   * (full-size) compute instance, as {@code nvidia-smi mig -cgi ID -C} does.
   *
   * @return the instance as the driver reports it (its id and placement)
   */
  GpuInstance createGpuInstance(int gpu, GpuInstanceProfile profile);

  /** Destroys one compute instance. */
  void destroyComputeInstance(int gpu, int gpuInstanceId, int computeInstanceId);

  /** Destroys one GPU instance, which must hold no compute instance. */
  void destroyGpuInstance(int gpu, int gpuInstanceId);
}
