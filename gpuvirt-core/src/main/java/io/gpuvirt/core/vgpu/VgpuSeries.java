package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;

/** The series of a vGPU type, the letter at the end of its name (e.g. {@code NVIDIA L40S-2Q}). */
public enum VgpuSeries {
  /** Compute. */
  C,
  /** Virtual workstation. */
  Q,
  /** Virtual desktop. */
  B,
  /** App streaming. */
  A;

  /**
   * The series of a vGPU type name: its last letter ({@code NVIDIA H200X-1-18C} is C).
   *
   * @throws InvalidValueException if the name does not end in C, Q, B or A
   */
  public static VgpuSeries ofTypeName(String name) {
    if (name == null || name.isEmpty()) {
      throw new InvalidValueException("vGPU type name is empty; expected e.g. 'NVIDIA L40S-2Q'");
    }
    char last = name.charAt(name.length() - 1);
    for (VgpuSeries s : values()) {
      if (s.name().charAt(0) == last) {
        return s;
      }
    }
    throw new InvalidValueException(
        "vGPU type name '" + name + "' does not end in a series letter C, Q, B or A");
  }
}
