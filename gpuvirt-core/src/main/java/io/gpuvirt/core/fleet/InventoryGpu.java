package io.gpuvirt.core.fleet;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * One GPU a host publishes: its address, id and model, NUMA node, IOMMU group and, on an NVSwitch
 * host, its module id.
 */
public record InventoryGpu(PciAddress address, PciId id, String model, int numaNode,
    int iommuGroup, OptionalInt moduleId) {
  public InventoryGpu {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(id, "id of " + address);
    Objects.requireNonNull(model, "model of " + address);
    Objects.requireNonNull(moduleId, "moduleId of " + address);
    if (model.isBlank() || model.length() > 200) {
      throw new InvalidValueException("the model of GPU " + address + " must be 1 to 200 "
          + "characters, was '" + model + "'");
    }
    if (numaNode < -1) {
      throw new InvalidValueException("the NUMA node of GPU " + address + " must be -1 (none) or "
          + "more, was " + numaNode);
    }
    if (iommuGroup < 0) {
      throw new InvalidValueException("the IOMMU group of GPU " + address + " must be 0 or more, "
          + "was " + iommuGroup);
    }
    if (moduleId.isPresent() && moduleId.getAsInt() < 0) {
      throw new InvalidValueException("the module id of GPU " + address + " must be 0 or more, "
          + "was " + moduleId.getAsInt());
    }
  }
}
