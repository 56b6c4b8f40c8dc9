package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A vGPU type of one card: the card-local numeric id written to {@code current_vgpu_type}, its name,
 * series, framebuffer, how many fit on one GPU, and whether it is time-sliced or MIG-backed.
 *
 * @param id the numeric type id, at least 1 (0 means "no type" in sysfs)
 * @param name the name as the driver prints it, e.g. {@code NVIDIA L40S-2Q}
 * @param series the series, C, Q, B or A
 * @param framebufferMib the framebuffer of one instance in MiB, at least 1
 * @param maxInstances how many instances of this type fit on one GPU, at least 1
 * @param migBacked true for MIG-backed types (on a MIG slice), false for time-sliced
 */
public record VgpuType(
    int id, String name, VgpuSeries series, long framebufferMib, int maxInstances, boolean migBacked) {

  /** Validates every field and names the bad one. */
  public VgpuType {
    if (id < 1) {
      throw new InvalidValueException("vGPU type id " + id + " must be at least 1 (0 means no type)");
    }
    Objects.requireNonNull(series, "series");
    if (name == null || name.isBlank() || !name.equals(name.strip()) || name.indexOf('\n') >= 0) {
      throw new InvalidValueException("vGPU type " + id + ": name '" + name + "' is blank or padded");
    }
    if (framebufferMib < 1) {
      throw new InvalidValueException(
          "vGPU type " + name + ": framebuffer " + framebufferMib + " MiB must be at least 1");
    }
    if (maxInstances < 1) {
      throw new InvalidValueException(
          "vGPU type " + name + ": max instances " + maxInstances + " must be at least 1");
    }
  }

  private static final Pattern MIG_NAME = Pattern.compile("-([0-9]{1,2})-([0-9]{1,4})[A-Z]+$");

  /**
   * The MIG GPU-instance profile a MIG-backed type runs on, read from its name: MIG-backed names
   * carry {@code <slices>-<GB>} ({@code NVIDIA H200X-1-18C} runs on a {@code 1g.18gb} instance).
   * Empty for a time-sliced type, or a MIG-backed name without that part.
   */
  public Optional<String> gpuInstanceProfileName() {
    Matcher m = MIG_NAME.matcher(name);
    return migBacked && m.find() ? Optional.of(m.group(1) + "g." + m.group(2) + "gb")
        : Optional.empty();
  }

  /** A time-sliced type whose series is taken from its name. */
  public static VgpuType timeSliced(int id, String name, long framebufferMib, int maxInstances) {
    return new VgpuType(id, name, VgpuSeries.ofTypeName(name), framebufferMib, maxInstances, false);
  }
}
