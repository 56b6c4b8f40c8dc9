package io.gpuvirt.examples.guest;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where one NVIDIA GPU sits in the guest's PCI tree, and whether that is where CUDA needs it.
 *
 * @param gpu the GPU's guest address
 * @param id its vendor:device id
 * @param verdict the outcome
 * @param upstream the bridges above it, nearest first (empty on the root complex)
 * @param rootPort the root port it sits behind, when one was found
 * @param explanation one sentence for the report: where it sits and what that means
 * @param fix how to place it behind a root port, when it failed
 */
public record GpuPlacement(PciAddress gpu, PciId id, Verdict verdict, List<PciAddress> upstream,
    Optional<PciAddress> rootPort, String explanation, Optional<String> fix) {

  /** The outcomes of the check. */
  public enum Verdict {
    /** Behind a bridge whose PCI Express capability says root port. */
    BEHIND_ROOT_PORT(true),
    /**
     * Behind a PCI bridge (class 0x0604) on the root bus whose port type could not be read (config
     * space beyond the first 64 bytes needs root); taken as a root port.
     */
    BEHIND_ROOT_BUS_BRIDGE(true),
    /** Directly on the root complex: the flat layout in which B200s fail {@code cuInit} with 3. */
    ON_ROOT_COMPLEX(false),
    /** Behind bridges, none of which is a PCIe root port (a conventional PCI bridge, say). */
    NO_ROOT_PORT(false);

    private final boolean passed;

    Verdict(boolean passed) {
      this.passed = passed;
    }

    /** Whether this outcome passes the check. */
    public boolean passed() {
      return passed;
    }
  }

  public GpuPlacement {
    Objects.requireNonNull(gpu, "gpu");
    Objects.requireNonNull(id, "id of " + gpu);
    Objects.requireNonNull(verdict, "verdict of " + gpu);
    upstream = List.copyOf(upstream);
    Objects.requireNonNull(rootPort, "rootPort of " + gpu);
    Objects.requireNonNull(explanation, "explanation of " + gpu);
    Objects.requireNonNull(fix, "fix of " + gpu);
    if (fix.isPresent() == verdict.passed()) {
      throw new InvalidValueException(gpu + ": a failed placement has a fix, a passed one none");
    }
  }

  /** Whether the GPU is where CUDA needs it. */
  public boolean passed() {
    return verdict.passed();
  }
}
