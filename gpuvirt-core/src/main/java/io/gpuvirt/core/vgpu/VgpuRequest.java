package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * "A vGPU of type X for vm-7": one vGPU for an owner, of a named type (numeric id or name, e.g.
 * {@code 1147} or {@code L40S-1Q}) or of the smallest type of a series with at least a given
 * framebuffer, optionally on one NUMA node, placed by a fill policy.
 *
 * @param owner the owner, as for every lease ({@code vm-7})
 * @param type the type's id or name; empty when asking by framebuffer and series
 * @param minFramebufferMib with {@code series}: the least framebuffer in MiB
 * @param series with {@code minFramebufferMib}: the series wanted
 * @param numaNode only GPUs on this node; empty for any
 * @param fill how GPUs are filled
 */
public record VgpuRequest(String owner, Optional<String> type, long minFramebufferMib,
    Optional<VgpuSeries> series, OptionalInt numaNode, Fill fill) {

  /**
   * Fill policy. {@link #PACK} (the default) puts the vGPU on the fullest GPU that can still take
   * its type, keeping other GPUs empty for other types and for whole-GPU passthrough (a GPU in
   * homogeneous mode holds one type at a time); {@link #SPREAD} puts it on the emptiest, for
   * performance isolation. Ties go to the lowest PCI address.
   */
  public enum Fill { PACK, SPREAD }

  /** Validates the owner and that exactly one way of naming the type is given. */
  public VgpuRequest {
    AllocationRequest.checkOwner(owner);
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(series, "series");
    Objects.requireNonNull(numaNode, "numaNode");
    Objects.requireNonNull(fill, "fill");
    if (type.isPresent() == series.isPresent()) {
      throw new InvalidValueException("vGPU request of " + owner + ": give a type (id or name) or "
          + "a series with a least framebuffer, not " + (type.isPresent() ? "both" : "neither"));
    }
    if (type.isPresent() && (type.get().isBlank() || type.get().length() > 64)) {
      throw new InvalidValueException("vGPU request of " + owner + ": type '" + type.get()
          + "' is blank or longer than 64 characters");
    }
    if (series.isPresent() && minFramebufferMib < 1) {
      throw new InvalidValueException("vGPU request of " + owner + ": least framebuffer "
          + minFramebufferMib + " MiB must be at least 1");
    }
    if (numaNode.isPresent() && numaNode.getAsInt() < 0) {
      throw new InvalidValueException("vGPU request of " + owner + ": NUMA node "
          + numaNode.getAsInt() + " is negative");
    }
  }

  /** A vGPU of this type (id or name) for {@code owner}, on any node, packed. */
  public static VgpuRequest ofType(String owner, String idOrName) {
    return new VgpuRequest(owner, Optional.of(idOrName), 0, Optional.empty(), OptionalInt.empty(),
        Fill.PACK);
  }

  /** A vGPU of the smallest type of {@code series} with at least {@code gib} GiB, packed. */
  public static VgpuRequest ofFramebuffer(String owner, long gib, VgpuSeries series) {
    if (gib < 1 || gib > 1 << 20) {
      throw new InvalidValueException("vGPU request of " + owner + ": " + gib
          + " GiB is not a framebuffer size");
    }
    return new VgpuRequest(owner, Optional.empty(), gib * 1024, Optional.of(series),
        OptionalInt.empty(), Fill.PACK);
  }

  /** The same request limited to one NUMA node. */
  public VgpuRequest onNumaNode(int node) {
    return new VgpuRequest(owner, type, minFramebufferMib, series, OptionalInt.of(node), fill);
  }

  /** The same request with another fill policy. */
  public VgpuRequest withFill(Fill newFill) {
    return new VgpuRequest(owner, type, minFramebufferMib, series, numaNode, newFill);
  }

  /** The type of {@code catalogue} this request asks for, if the card has one. */
  public Optional<VgpuType> resolve(VgpuTypeCatalogue catalogue) {
    if (type.isPresent()) {
      String t = type.get();
      return t.matches("[0-9]{1,9}") ? catalogue.byId(Integer.parseInt(t)) : catalogue.byName(t);
    }
    return catalogue.types().stream()
        .filter(x -> x.series() == series.get() && x.framebufferMib() >= minFramebufferMib)
        .min(java.util.Comparator.comparingLong(VgpuType::framebufferMib)
            .thenComparingInt(VgpuType::id));
  }

  /** How the request reads in messages: {@code L40S-1Q} or {@code >= 4 GiB of series C}. */
  public String describe() {
    return type.orElseGet(() -> ">= " + minFramebufferMib / 1024.0 + " GiB of series "
        + series.get());
  }
}
