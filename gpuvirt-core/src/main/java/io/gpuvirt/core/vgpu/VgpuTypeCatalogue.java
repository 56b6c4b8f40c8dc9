package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The vGPU types one card model offers. gpuvirt keeps this table because a VF's
 * {@code creatable_vgpu_types} shrinks as the card fills (and is header-only when full), so the
 * names of types already in use cannot be read back from the VF.
 *
 * <p>The presets carry the ids and names seen on real hosts (reference VGPU_MIG.md §2.2, NEXT.md);
 * framebuffer sizes and instance counts are derived from the names and the card's memory and are
 * marked {@link #inferred()}: an integrator with the real table (from NVML or {@code nvidia-smi vgpu
 * -s}) builds its own with {@link #of}.
 *
 * @param card the card model, e.g. {@code NVIDIA L40S}
 * @param types the types, ids and names unique
 * @param inferred true if any field was derived rather than read from a real host
 */
public record VgpuTypeCatalogue(String card, List<VgpuType> types, boolean inferred) {

  /** Validates the card name and that ids and names are unique. */
  public VgpuTypeCatalogue {
    if (card == null || card.isBlank()) {
      throw new InvalidValueException("vGPU type catalogue: card name is blank");
    }
    types = List.copyOf(types);
    Set<Integer> ids = new HashSet<>();
    Set<String> names = new HashSet<>();
    for (VgpuType t : types) {
      if (!ids.add(t.id())) {
        throw new InvalidValueException("vGPU type catalogue " + card + ": id " + t.id() + " twice");
      }
      if (!names.add(t.name())) {
        throw new InvalidValueException("vGPU type catalogue " + card + ": name " + t.name() + " twice");
      }
    }
  }

  /** A catalogue an integrator builds from its own table. */
  public static VgpuTypeCatalogue of(String card, List<VgpuType> types, boolean inferred) {
    return new VgpuTypeCatalogue(card, types, inferred);
  }

  /** The type with this id, if the card has it. */
  public Optional<VgpuType> byId(int id) {
    return types.stream().filter(t -> t.id() == id).findFirst();
  }

  /** The type with this name (exact, e.g. {@code NVIDIA L40S-2Q}, or without the "NVIDIA " prefix). */
  public Optional<VgpuType> byName(String name) {
    return types.stream()
        .filter(t -> t.name().equals(name) || t.name().equals("NVIDIA " + name))
        .findFirst();
  }

  /**
   * The type a user named by numeric id or by name.
   *
   * @throws InvalidValueException naming the card and the types it has, if there is no such type
   */
  public VgpuType require(String idOrName) {
    Optional<VgpuType> found = Optional.empty();
    if (idOrName != null && idOrName.matches("[0-9]{1,9}")) {
      found = byId(Integer.parseInt(idOrName));
    } else if (idOrName != null) {
      found = byName(idOrName);
    }
    return found.orElseThrow(() -> new InvalidValueException(
        "vGPU type '" + idOrName + "' is not a type of " + card + "; known: "
            + types.stream().map(t -> t.id() + " (" + t.name() + ")").toList()));
  }

  /**
   * NVIDIA L40S (48 GB): the ids and names of a real {@code creatable_vgpu_types} dump (harvester
   * pcidevices, VF 0000:3d:00.4); framebuffers from the names, instance counts from 48 GiB and the
   * 32-VF limit are inferred.
   */
  public static VgpuTypeCatalogue l40s() {
    return of("NVIDIA L40S", List.of(
        VgpuType.timeSliced(1145, "NVIDIA L40S-1B", 1024, 32),
        VgpuType.timeSliced(1146, "NVIDIA L40S-2B", 2048, 24),
        VgpuType.timeSliced(1147, "NVIDIA L40S-1Q", 1024, 32),
        VgpuType.timeSliced(2164, "NVIDIA L40S-3B", 3072, 16)), true);
  }

  /**
   * NVIDIA A10 (24 GB): ids 588 (A10-1B) and 605 (A10-24A) as OpenNebula shows them; sizes and counts
   * inferred.
   */
  public static VgpuTypeCatalogue a10() {
    return of("NVIDIA A10", List.of(
        VgpuType.timeSliced(588, "NVIDIA A10-1B", 1024, 24),
        VgpuType.timeSliced(605, "NVIDIA A10-24A", 24576, 1)), true);
  }

  /**
   * NVIDIA H200X (141 GB): 1428 (H200X-141C, time-sliced, the whole card) and 1414 (H200X-1-18C,
   * MIG-backed on a 1g.18gb slice, 7 per GPU); counts inferred from the MIG profile table.
   */
  public static VgpuTypeCatalogue h200x() {
    return of("NVIDIA H200X", List.of(
        VgpuType.timeSliced(1428, "NVIDIA H200X-141C", 141L * 1024, 1),
        new VgpuType(1414, "NVIDIA H200X-1-18C", VgpuSeries.C, 18L * 1024, 7, true)), true);
  }
}
