package io.gpuvirt.core.mig;

import io.gpuvirt.core.InvalidValueException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The GPU-instance profiles of one GPU model: what {@code nvidia-smi mig -lgip} and {@code -lgipp}
 * print on it. Built-in tables cover B200, H100 80 GB, H100 NVL 94 GB, H200 141 GB and GB200; an
 * integrator who has the real dump of another model (or a newer driver) builds its own with the
 * public constructor and passes it wherever a table is taken.
 *
 * <p>Where the built-in values come from (keys of {@code shared/reference/VGPU_MIG.md}): H100 80 GB
 * and H100 NVL: profile ids, memory and SMs from real {@code -lgip} output, placements from the
 * MIG user guide's {@code -lgipp} (identical on A100, H100 80 GB and H100 NVL). B200 and H200:
 * names and instance counts from the MIG user guide, B200's engines from its table 9; profile ids
 * and placements are <em>inferred</em> from the identical 1/8-memory geometry, memory from the
 * name. GB200: names and counts from mig-parted's {@code config-default.yaml} only; ids,
 * placements and memory <em>inferred</em>. Profiles with inferred values say so in
 * {@link GpuInstanceProfile#inferred()}.
 *
 * @param model the product name, e.g. {@code B200}
 * @param pciDeviceIds the PCI device ids (vendor 0x10de) this table applies to, e.g. 0x2901
 * @param computeSlices compute slices of the whole GPU (7 on all built-in models)
 * @param memorySlices memory slices of the whole GPU (8 on all built-in models)
 * @param profiles the profiles, no two with one id or one name
 */
public record MigProfileTable(
    String model,
    List<Integer> pciDeviceIds,
    int computeSlices,
    int memorySlices,
    List<GpuInstanceProfile> profiles) {

  /** Validates the table: unique ids and names, every profile within the GPU's slices. */
  public MigProfileTable {
    Objects.requireNonNull(model, "model");
    if (model.isBlank()) {
      throw new InvalidValueException("MIG profile table: model name is blank");
    }
    pciDeviceIds = List.copyOf(pciDeviceIds);
    profiles = List.copyOf(profiles);
    for (int device : pciDeviceIds) {
      if (device < 0 || device > 0xffff) {
        throw new InvalidValueException(
            "MIG profile table " + model + ": PCI device id " + device + " is not 16-bit");
      }
    }
    if (computeSlices < 1 || computeSlices > 8 || memorySlices < 1 || memorySlices > 8) {
      throw new InvalidValueException(
          "MIG profile table " + model + ": slices " + computeSlices + "/" + memorySlices
              + " out of range 1..8");
    }
    if (profiles.isEmpty()) {
      throw new InvalidValueException("MIG profile table " + model + " has no profiles");
    }
    Set<Integer> ids = new HashSet<>();
    Set<String> names = new HashSet<>();
    for (GpuInstanceProfile p : profiles) {
      if (!ids.add(p.id()) || !names.add(p.name())) {
        throw new InvalidValueException(
            "MIG profile table " + model + ": profile " + p.name() + " (id " + p.id()
                + ") appears twice");
      }
      if (p.computeSlices() > computeSlices
          || p.placementStarts().get(p.placementStarts().size() - 1) + p.memorySlices()
              > memorySlices) {
        throw new InvalidValueException(
            "MIG profile table " + model + ": profile " + p.name() + " " + p.placementText()
                + " does not fit a GPU of " + computeSlices + " compute and " + memorySlices
                + " memory slices");
      }
    }
  }

  /**
   * The profile with this name.
   *
   * @throws InvalidValueException naming the model and the profiles it has
   */
  public GpuInstanceProfile profile(String name) {
    for (GpuInstanceProfile p : profiles) {
      if (p.name().equals(name)) {
        return p;
      }
    }
    throw new InvalidValueException(
        "MIG profile '" + name + "' does not exist on " + model + "; its profiles are "
            + profileNames());
  }

  /**
   * The profile with this id.
   *
   * @throws InvalidValueException naming the model and the ids it has
   */
  public GpuInstanceProfile profile(int id) {
    for (GpuInstanceProfile p : profiles) {
      if (p.id() == id) {
        return p;
      }
    }
    throw new InvalidValueException(
        "MIG profile id " + id + " does not exist on " + model + "; its profiles are "
            + profiles.stream().map(p -> p.name() + " (" + p.id() + ")")
                .collect(Collectors.joining(", ")));
  }

  /** The profile names in table order, comma separated. */
  public String profileNames() {
    return profiles.stream().map(GpuInstanceProfile::name).collect(Collectors.joining(", "));
  }

  /** Whether this table is for the PCI device id (vendor 0x10de). */
  public boolean appliesTo(int pciDeviceId) {
    return pciDeviceIds.contains(pciDeviceId);
  }

  /** The built-in tables: B200, H100 80 GB, H100 NVL 94 GB, H200, GB200. */
  public static List<MigProfileTable> builtIn() {
    return List.of(b200(), h100Sxm80Gb(), h100Nvl94Gb(), h200(), gb200());
  }

  /** The built-in table for a PCI device id (vendor 0x10de), if there is one. */
  public static Optional<MigProfileTable> builtInFor(int pciDeviceId) {
    return builtIn().stream().filter(t -> t.appliesTo(pciDeviceId)).findFirst();
  }

  /** HGX B200 180 GB (10de:2901). Ids and placements inferred; see the class javadoc. */
  public static MigProfileTable b200() {
    return standard("B200", List.of(0x2901), true, new Row[] {
      row(19, "1g.23gb", 1, 1, 0, 7, engines(2, 1, 0, 1, 0)),
      row(20, "1g.23gb+me", 1, 1, 0, 1, engines(2, 1, 0, 1, 1)),
      row(15, "1g.45gb", 1, 2, 0, 4, engines(2, 1, 0, 1, 0)),
      row(14, "2g.45gb", 2, 2, 0, 3, engines(3, 1, 0, 1, 0)),
      row(9, "3g.90gb", 3, 4, 0, 2, engines(6, 1, 0, 1, 0)),
      row(5, "4g.90gb", 4, 4, 0, 1, engines(8, 1, 0, 1, 0)),
      row(0, "7g.180gb", 7, 8, 0, 1, engines(16, 1, 0, 1, 1)),
    });
  }

  /** H100 SXM5 / PCIe 80 GB (10de:2330, 10de:2331). From real {@code -lgip}/{@code -lgipp}. */
  public static MigProfileTable h100Sxm80Gb() {
    return standard("H100 80GB", List.of(0x2330, 0x2331), false, new Row[] {
      row(19, "1g.10gb", 1, 1, gib(9.75), 7, 16, engines(1, 1, 0, 1, 0)),
      row(20, "1g.10gb+me", 1, 1, gib(9.75), 1, 0, null),
      row(15, "1g.20gb", 1, 2, gib(19.62), 4, 26, null),
      row(14, "2g.20gb", 2, 2, gib(19.62), 3, 32, null),
      row(9, "3g.40gb", 3, 4, gib(39.50), 2, 60, null),
      // 4g.40gb is missing from the -lgip dump in the reference: id from A100/H100 NVL, memory
      // from 3g.40gb, SMs from H100 NVL.
      row(5, "4g.40gb", 4, 4, gib(39.50), 1, 64, null).guessed(),
      row(0, "7g.80gb", 7, 8, gib(79.25), 1, 132, engines(8, 7, 0, 7, 1)),
    });
  }

  /** H100 NVL 94 GB (10de:2321). From real {@code -lgip}/{@code -lgipp}. */
  public static MigProfileTable h100Nvl94Gb() {
    return standard("H100 NVL 94GB", List.of(0x2321), false, new Row[] {
      row(19, "1g.12gb", 1, 1, gib(10.62), 7, 16, engines(1, 1, 0, 1, 0)),
      row(20, "1g.12gb+me", 1, 1, gib(10.62), 1, 0, null),
      row(15, "1g.24gb", 1, 2, gib(21.50), 4, 26, null),
      row(14, "2g.24gb", 2, 2, gib(21.50), 3, 32, null),
      row(9, "3g.47gb", 3, 4, gib(46.12), 2, 60, null),
      row(5, "4g.47gb", 4, 4, gib(46.12), 1, 64, null),
      row(0, "7g.94gb", 7, 8, gib(92.62), 1, 132, null),
    });
  }

  /** H200 SXM 141 GB (10de:2335). Ids and placements inferred; 1g.18gb from {@code -lgip}. */
  public static MigProfileTable h200() {
    return standard("H200", List.of(0x2335), true, new Row[] {
      row(19, "1g.18gb", 1, 1, gib(16.00), 7, 16, engines(1, 1, 0, 1, 0)),
      row(20, "1g.18gb+me", 1, 1, 0, 1, null),
      row(15, "1g.35gb", 1, 2, 0, 4, null),
      row(14, "2g.35gb", 2, 2, 0, 3, null),
      row(9, "3g.71gb", 3, 4, 0, 2, null),
      row(5, "4g.71gb", 4, 4, 0, 1, null),
      row(0, "7g.141gb", 7, 8, 0, 1, null),
    });
  }

  /**
   * HGX GB200 (10de:2941). Names and counts from mig-parted's default config only; everything else
   * inferred.
   */
  public static MigProfileTable gb200() {
    return standard("GB200", List.of(0x2941), true, new Row[] {
      row(19, "1g.24gb", 1, 1, 0, 7, null),
      row(20, "1g.24gb+me", 1, 1, 0, 1, null),
      row(15, "1g.47gb", 1, 2, 0, 4, null),
      row(14, "2g.47gb", 2, 2, 0, 3, null),
      row(9, "3g.95gb", 3, 4, 0, 2, null),
      row(5, "4g.95gb", 4, 4, 0, 1, null),
      row(0, "7g.189gb", 7, 8, 0, 1, null),
    });
  }

  // --- building the built-in tables -------------------------------------------------------

  /** One row of a built-in table; memory 0 = from the name, inferred. */
  private record Row(
      int id, String name, int compute, int memory, long memoryMiB, int max, int sms,
      MigEngines engines, boolean inferred) {
    Row guessed() {
      return new Row(id, name, compute, memory, memoryMiB, max, sms, engines, true);
    }
  }

  private static Row row(int id, String name, int compute, int memory, long mib, int max,
      int sms, MigEngines engines) {
    return new Row(id, name, compute, memory, mib, max, sms, engines, false);
  }

  private static Row row(int id, String name, int compute, int memory, long mib, int max,
      MigEngines engines) {
    return new Row(id, name, compute, memory, mib, max, 0, engines, false);
  }

  private static MigEngines engines(int ce, int dec, int enc, int jpeg, int ofa) {
    return new MigEngines(ce, dec, enc, jpeg, ofa);
  }

  private static long gib(double gib) {
    return Math.round(gib * 1024);
  }

  /**
   * The placement geometry every built-in model shares (-lgipp on A100/H100): 1-slice profiles at
   * {0..6}:1, the double-memory 1g at {0,2,4,6}:2, 2g at {0,2,4}:2, 3g at {0,4}:4, 4g at {0}:4,
   * 7g at {0}:8.
   */
  private static List<Integer> starts(int compute, int memory) {
    if (memory == 1) {
      return List.of(0, 1, 2, 3, 4, 5, 6);
    }
    if (memory == 2) {
      return compute == 1 ? List.of(0, 2, 4, 6) : List.of(0, 2, 4);
    }
    if (memory == 4) {
      return compute == 3 ? List.of(0, 4) : List.of(0);
    }
    return List.of(0);
  }

  private static MigProfileTable standard(
      String model, List<Integer> devices, boolean inferred, Row[] rows) {
    List<GpuInstanceProfile> profiles = new ArrayList<>();
    for (Row r : rows) {
      long mib = r.memoryMiB();
      boolean guessed = inferred || r.inferred() || mib == 0;
      if (mib == 0) {
        String gb = r.name().substring(r.name().indexOf('.') + 1, r.name().indexOf("gb"));
        mib = Long.parseLong(gb) * 1024;
      }
      profiles.add(new GpuInstanceProfile(
          r.id(), r.name(), r.compute(), r.memory(), mib,
          r.sms() > 0 ? OptionalInt.of(r.sms()) : OptionalInt.empty(),
          Optional.ofNullable(r.engines()), r.max(), starts(r.compute(), r.memory()), guessed));
    }
    return new MigProfileTable(model, devices, 7, 8, profiles);
  }
}
