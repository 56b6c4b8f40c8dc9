package io.gpuvirt.core.alloc;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.ModuleIdMap;
import java.util.Objects;

/**
 * What partition-aware allocation needs on a host whose GPUs share NVSwitches: the Fabric Manager
 * (to list partitions and see which are active) and the map from GPU module ids to PCI addresses.
 *
 * @param fabricManager the Fabric Manager port
 * @param moduleIds module id to GPU address
 */
public record PartitionContext(FabricManager fabricManager, ModuleIdMap moduleIds) {
  public PartitionContext {
    Objects.requireNonNull(fabricManager, "fabricManager");
    Objects.requireNonNull(moduleIds, "moduleIds");
  }
}
