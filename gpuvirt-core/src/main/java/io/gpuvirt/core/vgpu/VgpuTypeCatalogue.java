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
 * @param mixedSizes true if the card supports heterogeneous mode (vGPUs of different framebuffer
 *     sizes on one GPU, {@code nvidia-smi vgpu -shm 1}); false keeps it homogeneous, one type at
 *     a time
 */
public record VgpuTypeCatalogue(String card, List<VgpuType> types, boolean inferred,
    boolean mixedSizes) {

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

  /** A catalogue of a homogeneous-only card an integrator builds from its own table. */
  public static VgpuTypeCatalogue of(String card, List<VgpuType> types, boolean inferred) {
    return new VgpuTypeCatalogue(card, types, inferred, false);
  }

  /** The same catalogue, saying whether the card supports heterogeneous (mixed-size) mode. */
  public VgpuTypeCatalogue withMixedSizes(boolean supported) {
    return new VgpuTypeCatalogue(card, types, inferred, supported);
  }

  /**
   * The framebuffer of the whole card as the catalogue implies it: the largest framebuffer times
   * instances of any type (48 GiB for the L40S's 2B and 3B types). Heterogeneous mode fills the
   * card up to this.
   */
  public long cardFramebufferMib() {
    return types.stream().mapToLong(t -> t.framebufferMib() * t.maxInstances()).max().orElse(0);
  }

  /** The type with this id, if the card has it. */
  public Optional<VgpuType> byId(int id) {
    return types.stream().filter(t -> t.id() == id).findFirst();
  }

  /**
   * The type with this name: exact ({@code NVIDIA L40S-2Q}, {@code GRID T4-1Q}) or without the
   * vendor prefix the driver prints ({@code L40S-2Q}, {@code T4-1Q}).
   */
  public Optional<VgpuType> byName(String name) {
    return types.stream()
        .filter(t -> t.name().equals(name) || t.name().equals("NVIDIA " + name)
            || t.name().equals("GRID " + name))
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
   * 32-VF limit are inferred, and so is heterogeneous-mode support (Ada cards with vGPU 17+; the
   * reference's mixed-size report is from an RTX PRO 6000).
   */
  public static VgpuTypeCatalogue l40s() {
    return new VgpuTypeCatalogue("NVIDIA L40S", List.of(
        VgpuType.timeSliced(1145, "NVIDIA L40S-1B", 1024, 32),
        VgpuType.timeSliced(1146, "NVIDIA L40S-2B", 2048, 24),
        VgpuType.timeSliced(1147, "NVIDIA L40S-1Q", 1024, 32),
        VgpuType.timeSliced(2164, "NVIDIA L40S-3B", 3072, 16)), true, true);
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

  /**
   * NVIDIA B200X (HGX B200, 180 GB), entirely inferred: the reference has no B200 vGPU type list,
   * so the ids (1600-1604), the names (after the H200X pattern) and the counts are placeholders
   * that follow the card's framebuffer and its MIG table (1g.23gb); replace the catalogue with
   * the host's own ({@code nvidia-smi vgpu -s}) through {@code VgpuProvisioner.withCatalogues}.
   * Time-sliced 180C, 90C, 45C and 22C, and the MIG-backed B200X-1-23C that NVSwitch systems
   * refuse.
   */
  public static VgpuTypeCatalogue b200x() {
    return of("NVIDIA B200X", List.of(
        VgpuType.timeSliced(1600, "NVIDIA B200X-180C", 180L * 1024, 1),
        VgpuType.timeSliced(1601, "NVIDIA B200X-90C", 90L * 1024, 2),
        VgpuType.timeSliced(1602, "NVIDIA B200X-45C", 45L * 1024, 4),
        VgpuType.timeSliced(1603, "NVIDIA B200X-22C", 22L * 1024, 8),
        new VgpuType(1604, "NVIDIA B200X-1-23C", VgpuSeries.C, 23L * 1024, 7, true)), true);
  }

  /**
   * NVIDIA Tesla T4 (16 GB, Turing, no SR-IOV): a legacy-mdev card whose types are
   * {@code mdev_supported_types/nvidia-<id>} directories named {@code GRID T4-…}. The names follow
   * NVIDIA's T4 vGPU profile list; the numeric ids, sizes and counts are inferred (no real
   * {@code mdev_supported_types} listing is in the reference) — replace with the host's own.
   */
  public static VgpuTypeCatalogue t4() {
    return of("NVIDIA Tesla T4", List.of(
        VgpuType.timeSliced(222, "GRID T4-1B", 1024, 16),
        VgpuType.timeSliced(223, "GRID T4-2B", 2048, 8),
        VgpuType.timeSliced(230, "GRID T4-1Q", 1024, 16),
        VgpuType.timeSliced(231, "GRID T4-2Q", 2048, 8),
        VgpuType.timeSliced(232, "GRID T4-4Q", 4096, 4),
        VgpuType.timeSliced(233, "GRID T4-8Q", 8192, 2),
        VgpuType.timeSliced(234, "GRID T4-16Q", 16384, 1),
        VgpuType.timeSliced(319, "GRID T4-4C", 4096, 4),
        VgpuType.timeSliced(320, "GRID T4-8C", 8192, 2),
        VgpuType.timeSliced(321, "GRID T4-16C", 16384, 1)), true);
  }
}
