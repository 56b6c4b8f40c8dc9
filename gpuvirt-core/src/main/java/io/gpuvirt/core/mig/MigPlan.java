package io.gpuvirt.core.mig;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The GPU instances to create on one GPU, in the order to create them.
 *
 * @param existing the layout the plan starts from (kept as it is)
 * @param creations the instances to create, in creation order, each with its placement
 * @param driverOrder true when creating {@code creations} in this order <em>without</em> placements
 *     ({@code nvidia-smi mig -cgi 9,19,14,19}) makes the driver choose exactly these placements;
 *     false when the layout is reachable only by creating with explicit placements
 *     ({@code nvmlDeviceCreateGpuInstanceWithPlacement})
 */
public record MigPlan(MigLayout existing, List<PlannedInstance> creations, boolean driverOrder) {
  /** Validates that the plan's instances fit beside the existing ones. */
  public MigPlan {
    Objects.requireNonNull(existing, "existing");
    creations = List.copyOf(creations);
    // The layout checks on everything together; ids do not matter for them.
    List<GpuInstance> all = new ArrayList<>();
    for (GpuInstance g : existing.instances()) {
      all.add(new GpuInstance(all.size(), g.profile(), g.placement()));
    }
    for (PlannedInstance p : creations) {
      all.add(new GpuInstance(all.size(), p.profile(), p.placement()));
    }
    new MigLayout(existing.table(), all);
  }

  /** The profile ids in creation order, comma separated, as {@code nvidia-smi mig -cgi} takes them. */
  public String profileIdList() {
    return creations.stream().map(p -> String.valueOf(p.profile().id()))
        .collect(Collectors.joining(","));
  }

  /** The memory slices used once the plan is applied, as a bit mask. */
  public long usedMask() {
    long used = existing.usedMask();
    for (PlannedInstance p : creations) {
      used |= p.placement().mask();
    }
    return used;
  }
}
