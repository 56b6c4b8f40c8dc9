package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciClass;
import io.gpuvirt.core.pci.PciId;
import java.util.ArrayList;
import java.util.List;

/**
 * A GPU part the simulated hosts carry: its ids, class, revision and BAR layout. The layout is
 * part of the part, not of the host: every profile that has an H100 gets the Hopper layout.
 *
 * <p>Sources (see {@code reference/SYSFS.md} §3, §4, §9, §10):
 * <ul>
 *   <li>B200: seed 001 (Ubicloud, "Virtualizing Nvidia HGX B200 GPUs with Open Source"),
 *       {@code lspci -vvv -s 17:00.0}: Region 0 64M, Region 2 256G, Region 4 32M, all
 *       {@code (64-bit, prefetchable)}.
 *   <li>Hopper (H100 SXM5 10de:2330, H100 PCIe 10de:2331): fastfetch-cli/fastfetch issue #1658
 *       (HGX H100 {@code lspci -vvv}: 16M, 128G, 32M) and the H100 SXM5 config header on
 *       topofmind.dev/notes/sysadmin/gpu (BAR low nibbles {@code 0xc}: 64-bit prefetchable); the
 *       H20 capture in NVIDIA/nvtrust#128 has the same three regions. So: Region 0 16M, Region 2
 *       128G, Region 4 32M, all 64-bit prefetchable — the B200's shape, not Ampere's
 *       (A100: Region 0 32-bit non-prefetchable, go-nvlib's mock).
 *   <li>Consumer VGA GPU with HDMI audio (10de:27b0 RTX 4000 SFF Ada): the GeForce/workstation
 *       layout, Region 0 16M 32-bit non-prefetchable, Region 1 and 3 64-bit prefetchable, Region 5
 *       I/O 128 bytes; the aperture size is illustrative (resizable BAR changes it).
 * </ul>
 */
enum GpuModel {
  B200(Presets.B200, new PciId(0x10de, 0x1999), Presets.DISPLAY_3D, 0xa1, 2,
      List.of(shape(0, 64 * Presets.M, 0x0080_0000_0000L, Kind.PREF64),
          shape(2, 256 * Presets.G, 0, Kind.PREF64),
          shape(4, 32 * Presets.M, 0x0080_4400_0000L, Kind.PREF64))),
  /**
   * HGX GB200 10de:2941 (a Grace-attached Blackwell: SYSFS.md §9, the nvgrace-gpu id table, the
   * vfio driver {@code nvgrace_gpu_vfio_pci}); the reference has no lspci capture of one, so the
   * subsystem id is illustrative and the BAR layout is inferred from the B200's (64M, 256G, 32M).
   * On the host the GPU's memory is coherent with the CPUs and sits on NUMA nodes of its own;
   * nvgrace-gpu-vfio-pci presents it to a guest as a cacheable BAR2.
   */
  GB200(Presets.GB200, new PciId(0x10de, 0x20d2), Presets.DISPLAY_3D, 0xa1, 2,
      List.of(shape(0, 64 * Presets.M, 0x0080_0000_0000L, Kind.PREF64),
          shape(2, 256 * Presets.G, 0, Kind.PREF64),
          shape(4, 32 * Presets.M, 0x0080_4400_0000L, Kind.PREF64))),
  H100_SXM5(Presets.H100_SXM5, new PciId(0x10de, 0x16c1), Presets.DISPLAY_3D, 0xa1, 2,
      hopper()),
  H100_PCIE(Presets.H100_PCIE, new PciId(0x10de, 0x1626), Presets.DISPLAY_3D, 0xa1, 2,
      hopper()),
  /**
   * H200 SXM 141 GB 10de:2335 (SYSFS.md: class 0302, seen on an HGX H200); the subsystem id is
   * illustrative and the BARs are the Hopper layout (inferred: no lspci capture of an H200's
   * regions in the reference).
   */
  H200_SXM(Presets.H200_SXM, new PciId(0x10de, 0x18a2), Presets.DISPLAY_3D, 0xa1, 2, hopper()),
  RTX4000_ADA(new PciId(0x10de, 0x27b0), new PciId(0x10de, 0x16fa), Presets.VGA, 0xa1, 1,
      List.of(shape(0, 16 * Presets.M, 0, Kind.MEM32),
          shape(1, 256 * Presets.M, 0, Kind.PREF64),
          shape(3, 32 * Presets.M, 256 * Presets.M, Kind.PREF64),
          shape(5, 128, 0, Kind.IO))),
  /** L40S 10de:26b9 (SR-IOV vGPU card); subsystem id and BAR sizes are inferred (Ada layout). */
  L40S(new PciId(0x10de, 0x26b9), new PciId(0x10de, 0x1851), Presets.DISPLAY_3D, 0xa1, 1,
      List.of(shape(0, 16 * Presets.M, 0, Kind.MEM32),
          shape(1, 64 * Presets.G, 0, Kind.PREF64),
          shape(3, 32 * Presets.M, 64 * Presets.G, Kind.PREF64))),
  /**
   * Tesla T4 10de:1eb8 (Turing, legacy mdev vGPU, no SR-IOV); subsystem id and BAR sizes are
   * inferred (the Turing data-center layout: 16M 32-bit, 256M and 32M 64-bit prefetchable).
   */
  T4(new PciId(0x10de, 0x1eb8), new PciId(0x10de, 0x12a2), Presets.DISPLAY_3D, 0xa1, 1,
      List.of(shape(0, 16 * Presets.M, 0, Kind.MEM32),
          shape(1, 256 * Presets.M, 0, Kind.PREF64),
          shape(3, 32 * Presets.M, 256 * Presets.M, Kind.PREF64)));

  private enum Kind { PREF64, MEM32, IO }

  /** One BAR: its index, default size, and offset from the GPU's 64-bit block (memory BARs). */
  private record Shape(int index, long size, long offset, Kind kind) {}

  private static Shape shape(int index, long size, long offset, Kind kind) {
    return new Shape(index, size, offset, kind);
  }

  /** Hopper: the VRAM aperture at Region 2 and the block start, 16M and 32M above 128G. */
  private static List<Shape> hopper() {
    return List.of(shape(0, 16 * Presets.M, 0x0020_0000_0000L, Kind.PREF64),
        shape(2, 128 * Presets.G, 0, Kind.PREF64),
        shape(4, 32 * Presets.M, 0x0020_0200_0000L, Kind.PREF64));
  }

  private final PciId id;
  private final PciId subsystem;
  private final PciClass pciClass;
  private final int revision;
  private final int apertureIndex;
  private final List<Shape> shapes;

  GpuModel(PciId id, PciId subsystem, PciClass pciClass, int revision, int apertureIndex,
      List<Shape> shapes) {
    this.id = id;
    this.subsystem = subsystem;
    this.pciClass = pciClass;
    this.revision = revision;
    this.apertureIndex = apertureIndex;
    this.shapes = shapes;
  }

  PciId id() {
    return id;
  }

  /** The BAR index of the VRAM aperture (the large prefetchable BAR). */
  int apertureIndex() {
    return apertureIndex;
  }

  /** The BARs at their default sizes, 64-bit ones in a block at {@code block}, 32-bit at {@code low}. */
  List<Bar> bars(long block, long low) {
    return bars(block, low, aperture());
  }

  /** The default size of the VRAM aperture. */
  long aperture() {
    return shapes.stream().filter(s -> s.index() == apertureIndex).findFirst().orElseThrow()
        .size();
  }

  /**
   * The BARs with another aperture size (start 0 everywhere when {@code block} and {@code low} are
   * 0: for hosts whose addresses are assigned later).
   */
  List<Bar> bars(long block, long low, long apertureSize) {
    if (Long.bitCount(apertureSize) != 1) {
      throw new InvalidValueException(this + ": aperture size " + apertureSize
          + " is not a power of two");
    }
    List<Bar> out = new ArrayList<>();
    for (Shape s : shapes) {
      long size = s.index() == apertureIndex ? apertureSize : s.size();
      boolean placed = block != 0 || low != 0;
      if (placed && apertureSize != aperture()) {
        throw new InvalidValueException(this + ": place BARs with another aperture size at 0 and"
            + " assign addresses afterwards");
      }
      switch (s.kind()) {
        case PREF64 -> out.add(new Bar(s.index(), placed ? block + s.offset() : 0, size, true,
            true, false));
        case MEM32 -> out.add(new Bar(s.index(), placed ? low + s.offset() : 0, size, false,
            false, false));
        case IO -> out.add(new Bar(s.index(), placed ? 0x3000 + s.offset() : 0, size, false,
            false, true));
        default -> throw new IllegalStateException(s.kind().toString());
      }
    }
    return out;
  }

  /** A builder for this GPU at {@code address}, ids, class, revision and BARs set. */
  DeviceSpec.Builder device(io.gpuvirt.core.pci.PciAddress address, List<Bar> bars) {
    DeviceSpec.Builder b = DeviceSpec.builder(address).id(id).subsystem(subsystem)
        .pciClass(pciClass).revision(revision);
    bars.forEach(b::addBar);
    return b;
  }
}
