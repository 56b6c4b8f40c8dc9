package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * A NUMA node of a simulated host, written to {@code /sys/devices/system/node/node<id>}: a CPU
 * socket's node (CPUs and memory) or, on a Grace host, a CPU-less node that holds a GPU's
 * coherent memory (the first of a GPU's nodes) or is one of the empty nodes the GPU driver keeps
 * for MIG instances.
 *
 * @param id the node number
 * @param cpuList the node's CPUs as {@code cpulist} writes them ({@code 0-71}), empty for none
 * @param memoryBytes the node's memory ({@code MemTotal} of its {@code meminfo}), 0 for none
 * @param gpuMemoryOf the GPU whose memory this node holds or is reserved for, if any
 */
public record NumaNodeSpec(int id, String cpuList, long memoryBytes,
    Optional<PciAddress> gpuMemoryOf) {
  public NumaNodeSpec {
    if (id < 0 || id > 1023) {
      throw new InvalidValueException("NUMA node id must be 0-1023, was " + id);
    }
    Objects.requireNonNull(cpuList, "cpuList of NUMA node " + id);
    if (!cpuList.matches("(\\d+(-\\d+)?(,\\d+(-\\d+)?)*)?")) {
      throw new InvalidValueException("cpu list of NUMA node " + id + " must look like 0-71 or"
          + " 0-3,8-11, was '" + cpuList + "'");
    }
    if (memoryBytes < 0) {
      throw new InvalidValueException("memory of NUMA node " + id + " must be 0 or more, was "
          + memoryBytes);
    }
    Objects.requireNonNull(gpuMemoryOf, "gpuMemoryOf of NUMA node " + id);
  }

  /** A CPU socket's node. */
  public static NumaNodeSpec cpu(int id, String cpuList, long memoryBytes) {
    return new NumaNodeSpec(id, cpuList, memoryBytes, Optional.empty());
  }

  /** A CPU-less node that holds (or is reserved for) memory of {@code gpu}. */
  public static NumaNodeSpec gpuMemory(int id, PciAddress gpu, long memoryBytes) {
    return new NumaNodeSpec(id, "", memoryBytes, Optional.of(gpu));
  }
}
