package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;

/**
 * The engines a GPU-instance profile gets, as {@code nvidia-smi mig -lgip} and NVML's
 * {@code nvmlGpuInstanceProfileInfo_t} count them.
 *
 * @param copyEngines CE
 * @param decoders NVDEC
 * @param encoders NVENC
 * @param jpegs NVJPG
 * @param ofas optical-flow accelerators
 */
public record MigEngines(int copyEngines, int decoders, int encoders, int jpegs, int ofas) {
  /** Validates that no count is negative. */
  public MigEngines {
    int[] all = {copyEngines, decoders, encoders, jpegs, ofas};
    String[] names = {"copy engines", "decoders", "encoders", "jpegs", "ofas"};
    for (int i = 0; i < all.length; i++) {
      if (all[i] < 0 || all[i] > 64) {
        throw new InvalidValueException(
            "MIG engine count " + names[i] + "=" + all[i] + " is out of range 0..64");
      }
    }
  }
}
