package io.gpuvirt.core.fabric;

import io.gpuvirt.core.InvalidValueException;

/**
 * A GPU of a fabric partition. On HGX H100 and later Fabric Manager names GPUs by module id only; the
 * PCI address comes from the {@link ModuleIdMap}.
 *
 * @param moduleId the GPU's module (physical) id on the baseboard
 * @param nvlinksAvailable NVLinks usable in this partition
 * @param maxNvlinks NVLinks the GPU has
 * @param nvlinkLineRateMbps per-link line rate in MB/s, 0 when unknown
 */
public record PartitionGpu(int moduleId, int nvlinksAvailable, int maxNvlinks,
    int nvlinkLineRateMbps) {
  public PartitionGpu {
    if (moduleId < 0) {
      throw new InvalidValueException("module id must be 0 or more, was " + moduleId);
    }
    if (nvlinksAvailable < 0 || maxNvlinks < 0 || nvlinkLineRateMbps < 0) {
      throw new InvalidValueException("NVLink counts must be 0 or more for module " + moduleId);
    }
  }
}
