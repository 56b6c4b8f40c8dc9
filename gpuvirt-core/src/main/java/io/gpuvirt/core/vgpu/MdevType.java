package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import java.util.Objects;

/**
 * One mediated-device type a physical GPU offers on the legacy mdev path, as its directory
 * {@code /sys/class/mdev_bus/<PF>/mdev_supported_types/nvidia-<id>/} describes it (reference
 * VGPU_MIG.md §2.1).
 *
 * @param directory the type directory's name, {@code nvidia-<id>}
 * @param id the numeric type id from the directory name, at least 1
 * @param name the {@code name} file, e.g. {@code GRID T4-1Q}
 * @param description the {@code description} file, as the driver writes it
 * @param availableInstances the {@code available_instances} file: how many more can be created now
 * @param deviceApi the {@code device_api} file, {@code vfio-pci} for NVIDIA vGPUs
 */
public record MdevType(String directory, int id, String name, String description,
    int availableInstances, String deviceApi) {

  /** Validates every field and names the bad one. */
  public MdevType {
    Objects.requireNonNull(directory, "directory");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(description, "description");
    Objects.requireNonNull(deviceApi, "deviceApi");
    if (!directory.equals("nvidia-" + id) || id < 1) {
      throw new InvalidValueException("mdev type directory '" + directory + "' does not match id "
          + id + "; NVIDIA type directories are named nvidia-<id>");
    }
    if (availableInstances < 0) {
      throw new InvalidValueException("mdev type " + directory + ": available_instances "
          + availableInstances + " is negative");
    }
  }
}
