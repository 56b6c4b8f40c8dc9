package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * One GPU-instance profile of one GPU model, e.g. B200 {@code 3g.90gb}: profile id 9, 3 compute
 * slices, 4 memory slices, at most 2 instances, placements {@code {0,4}:4}.
 *
 * @param id the profile id that {@code nvidia-smi mig -cgi} and {@code nvmlDeviceCreateGpuInstance}
 *     take (19 for {@code 1g.*}), not NVML's {@code NVML_GPU_INSTANCE_PROFILE_*} constant
 * @param name the name without the {@code MIG } prefix, {@code Ng.Mgb[+attr]} ({@code 1g.23gb+me})
 * @param computeSlices compute slices (the {@code N} of {@code Ng})
 * @param memorySlices memory slices, also the size of every placement
 * @param memoryMiB framebuffer memory in MiB (from {@code -lgip}, or the name's GB when inferred)
 * @param multiprocessors SMs, empty where no source gives the count
 * @param engines CE/NVDEC/NVENC/JPEG/OFA, empty where no source gives them
 * @param maxInstances the most instances of this profile one GPU holds
 * @param placementStarts the memory slices an instance may start at, ascending ({@code -lgipp})
 * @param inferred true when some of these values are inferred rather than read off a real GPU (the
 *     table's javadoc says which); an integrator with a real {@code -lgip}/{@code -lgipp} dump
 *     supplies its own {@link MigProfileTable}
 */
public record GpuInstanceProfile(
    int id,
    String name,
    int computeSlices,
    int memorySlices,
    long memoryMiB,
    OptionalInt multiprocessors,
    Optional<MigEngines> engines,
    int maxInstances,
    List<Integer> placementStarts,
    boolean inferred) {

  private static final Pattern NAME = Pattern.compile("[1-9]g\\.[1-9][0-9]{0,3}gb(\\+[a-z]+(\\.[a-z]+)*|-[a-z]+)?");

  /** Validates every field and names the bad one. */
  public GpuInstanceProfile {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(multiprocessors, "multiprocessors");
    Objects.requireNonNull(engines, "engines");
    Objects.requireNonNull(placementStarts, "placementStarts");
    checkName(name);
    String where = "MIG profile " + name + ": ";
    if (id < 0 || id > 255) {
      throw new InvalidValueException(where + "profile id " + id + " is out of range 0..255");
    }
    if (computeSlices < 1 || computeSlices > 8) {
      throw new InvalidValueException(where + "compute slices " + computeSlices + " not in 1..8");
    }
    if (!name.startsWith(computeSlices + "g.")) {
      throw new InvalidValueException(
          where + "compute slices " + computeSlices + " contradict the name");
    }
    if (memorySlices < 1 || memorySlices > 8) {
      throw new InvalidValueException(where + "memory slices " + memorySlices + " not in 1..8");
    }
    if (memoryMiB < 1) {
      throw new InvalidValueException(where + "memory " + memoryMiB + " MiB must be positive");
    }
    if (multiprocessors.isPresent() && multiprocessors.getAsInt() < 1) {
      throw new InvalidValueException(where + "SM count " + multiprocessors.getAsInt() + " < 1");
    }
    if (placementStarts.isEmpty()) {
      throw new InvalidValueException(where + "needs at least one placement start");
    }
    placementStarts = List.copyOf(placementStarts);
    int previous = -1;
    for (int start : placementStarts) {
      if (start <= previous || start + memorySlices > 8) {
        throw new InvalidValueException(
            where + "placement starts " + placementStarts + " must ascend and fit "
                + memorySlices + " slices within 8");
      }
      previous = start;
    }
    if (maxInstances < 1 || maxInstances > placementStarts.size()) {
      throw new InvalidValueException(
          where + "max instances " + maxInstances + " must be 1.." + placementStarts.size()
              + " (one per placement start at most)");
    }
  }

  /**
   * Checks a profile name against mig-parted's grammar for GPU-instance profiles
   * ({@code Ng.Mgb[+attr]}) and returns it.
   *
   * @throws InvalidValueException naming the bad name
   */
  public static String checkName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new InvalidValueException(
          "MIG profile name '" + name + "' is not of the form Ng.Mgb[+attr] (e.g. 3g.90gb, "
              + "1g.23gb+me)");
    }
    return name;
  }

  /** Every placement this profile may take, in ascending start order. */
  public List<MigPlacement> placements() {
    List<MigPlacement> all = new ArrayList<>();
    for (int start : placementStarts) {
      all.add(new MigPlacement(start, memorySlices));
    }
    return List.copyOf(all);
  }

  /** Whether an instance of this profile may sit at the placement. */
  public boolean allows(MigPlacement placement) {
    return placement.size() == memorySlices && placementStarts.contains(placement.start());
  }

  /** The placements as {@code nvidia-smi mig -lgipp} prints them: {@code {0,4}:4}. */
  public String placementText() {
    return placementStarts.stream().map(String::valueOf).collect(Collectors.joining(",", "{", "}"))
        + ":" + memorySlices;
  }

  /** The name, e.g. {@code 3g.90gb}. */
  @Override
  public String toString() {
    return name;
  }
}
