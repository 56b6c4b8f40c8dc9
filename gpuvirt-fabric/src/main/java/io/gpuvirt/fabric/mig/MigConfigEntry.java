package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.mig.GpuInstanceProfile;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One entry of a mig-parted config: which GPUs it selects and what they get.
 *
 * @param deviceFilter the PCI ids it applies to; empty = every GPU (no {@code device-filter} key)
 * @param devices GPU indices it applies to; empty = {@code devices: all}
 * @param migEnabled the MIG mode wanted
 * @param migDevices profile name → count, in file order; empty when MIG is disabled (and allowed
 *     empty when enabled: {@code mig-devices: {}})
 */
public record MigConfigEntry(
    List<MigDeviceFilter> deviceFilter,
    Optional<List<Integer>> devices,
    boolean migEnabled,
    Map<String, Integer> migDevices) {

  /** Validates the entry as mig-parted does. */
  public MigConfigEntry {
    deviceFilter = List.copyOf(deviceFilter);
    Objects.requireNonNull(devices, "devices");
    devices = devices.map(List::copyOf);
    devices.ifPresent(list -> list.forEach(i -> {
      if (i < 0 || i > 1023) {
        throw new InvalidValueException("devices: GPU index " + i + " is out of range 0..1023");
      }
    }));
    Map<String, Integer> copy = new LinkedHashMap<>();
    migDevices.forEach((name, n) -> {
      GpuInstanceProfile.checkName(name);
      if (n == null || n < 0) {
        throw new InvalidValueException("mig-devices: count " + n + " for " + name
            + " must be 0 or more");
      }
      copy.put(name, n);
    });
    migDevices = Collections.unmodifiableMap(copy);
    if (!migEnabled && !migDevices.isEmpty()) {
      throw new InvalidValueException(
          "mig-devices given while mig-enabled is false; remove them or enable MIG");
    }
  }

  /** Whether this entry selects the GPU with this index and PCI device id. */
  public boolean selects(int index, int pciDeviceId) {
    return MigDeviceFilter.matches(deviceFilter, pciDeviceId)
        && devices.map(d -> d.contains(index)).orElse(true);
  }
}
