package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.MigLayout;
import io.gpuvirt.core.mig.MigMode;
import java.util.Locale;
import java.util.Objects;

/**
 * What mig-parted needs to know about one GPU: its index (as {@code nvidia-smi -i} counts), its PCI
 * device id (for {@code device-filter}), its MIG mode and its GPU instances.
 *
 * @param index the GPU index
 * @param pciDeviceId the PCI device id (vendor 0x10de)
 * @param mode the MIG mode
 * @param layout the GPU instances (with the model's profile table); empty when MIG is off
 */
public record MigGpuState(int index, int pciDeviceId, MigMode mode, MigLayout layout) {
  /** Validates the index and id. */
  public MigGpuState {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(layout, "layout");
    if (index < 0 || index > 1023 || pciDeviceId < 0 || pciDeviceId > 0xffff) {
      throw new InvalidValueException(
          "GPU index " + index + " / PCI device id " + pciDeviceId + " out of range");
    }
  }

  /** {@code GPU 0 (B200, 10de:2901)}. */
  String describe() {
    return String.format(Locale.ROOT, "GPU %d (%s, 10de:%04x)", index,
        layout.table().model(), pciDeviceId);
  }
}
