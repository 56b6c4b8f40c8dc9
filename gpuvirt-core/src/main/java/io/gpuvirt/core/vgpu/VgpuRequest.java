package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.AllocationRequest;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * "A vGPU of type X for vm-7": vGPUs for an owner (one by default; {@link #withCount} for a VM
 * with several, each on its own GPU), of a named type (numeric id or name, e.g. {@code 1147} or
 * {@code L40S-1Q}) or of the smallest type of a series with at least a given framebuffer,
 * optionally on one NUMA node, placed by a fill policy.
 *
 * @param owner the owner, as for every lease ({@code vm-7})
 * @param type the type's id or name; empty when asking by framebuffer and series
 * @param minFramebufferMib with {@code series}: the least framebuffer in MiB
 * @param series with {@code minFramebufferMib}: the series wanted
 * @param numaNode only GPUs on this node; empty for any
 * @param fill how GPUs are filled
 * @param count how many vGPUs, each on another GPU (1 to {@value #MAX_COUNT}); on a host in Fabric
 *     Manager vGPU mode their GPUs form one partition, so they can talk peer-to-peer over NVLink
 */
public record VgpuRequest(String owner, Optional<String> type, long minFramebufferMib,
    Optional<VgpuSeries> series, OptionalInt numaNode, Fill fill, int count) {

  /** The most vGPUs one request asks for (an HGX baseboard's GPUs). */
  public static final int MAX_COUNT = 8;

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
    if (count < 1 || count > MAX_COUNT) {
      throw new InvalidValueException("vGPU request of " + owner + ": count " + count
          + " is not between 1 and " + MAX_COUNT);
    }
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
        Fill.PACK, 1);
  }

  /** A vGPU of the smallest type of {@code series} with at least {@code gib} GiB, packed. */
  public static VgpuRequest ofFramebuffer(String owner, long gib, VgpuSeries series) {
    if (gib < 1 || gib > 1 << 20) {
      throw new InvalidValueException("vGPU request of " + owner + ": " + gib
          + " GiB is not a framebuffer size");
    }
    return new VgpuRequest(owner, Optional.empty(), gib * 1024, Optional.of(series),
        OptionalInt.empty(), Fill.PACK, 1);
  }

  /** The same request limited to one NUMA node. */
  public VgpuRequest onNumaNode(int node) {
    return new VgpuRequest(owner, type, minFramebufferMib, series, OptionalInt.of(node), fill,
        count);
  }

  /** The same request with another fill policy. */
  public VgpuRequest withFill(Fill newFill) {
    return new VgpuRequest(owner, type, minFramebufferMib, series, numaNode, newFill, count);
  }

  /**
   * The same request for {@code n} vGPUs, each on another GPU of the host (a multi-vGPU VM). On
   * a host in Fabric Manager vGPU mode the GPUs are those of one partition of {@code n} GPUs,
   * activated for this VM alone: NVIDIA requires vGPUs that talk peer-to-peer to be in one VM.
   *
   * @throws InvalidValueException when {@code n} is not between 1 and {@value #MAX_COUNT}
   */
  public VgpuRequest withCount(int n) {
    return new VgpuRequest(owner, type, minFramebufferMib, series, numaNode, fill, n);
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
