package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The 64-bit MMIO aperture a VM's firmware needs for its passed-through devices, computed the way
 * firmware lays BARs out behind root ports.
 *
 * <p>Only 64-bit prefetchable memory BARs live in the 64-bit aperture (the non-prefetchable window
 * of a bridge is 32-bit). For each root port: its BARs, largest first, each at its natural
 * alignment (a BAR's size rounded up to a power of two), give the port's window, rounded up to the
 * 1 MiB granularity of bridge windows and at least the port's hotplug reservation; the window is
 * aligned to its largest BAR. The windows, largest alignment first (the order OVMF allocates in),
 * each at its alignment, give the {@link #requiredBytes()}. The {@link #sizeBytes() aperture} is
 * that plus headroom, rounded up to a power of two, so that the firmware can align it to its own
 * size.
 *
 * <p>Worked example: eight B200s (BARs of 256 GiB, 64 MiB and 32 MiB): each port's window is
 * 256 GiB + 96 MiB aligned to 256 GiB, so windows start every 512 GiB; the last ends at 3.75 TiB +
 * 96 MiB, and the aperture is 4 TiB ({@code X-PciMmio64Mb=4194304}).
 *
 * <pre>{@code
 * MmioAperture a = MmioAperture.builder()
 *     .port("rp0", List.of(gpu0))
 *     .port("rp1", List.of(gpu1))
 *     .reservedPort("hp0", 512L << 30)
 *     .headroomBytes(1L << 30)
 *     .build();
 * a.sizeMiB();                      // what to pass as opt/ovmf/X-PciMmio64Mb
 * a.requiredPhysBits(256L << 30);   // address bits the guest CPU needs with 256 GiB of RAM
 * }</pre>
 *
 * @param windows the ports' windows, in placement order, offsets relative to the aperture base
 * @param headroomBytes the headroom added before rounding
 * @param requiredBytes the end of the last window
 * @param sizeBytes the aperture: {@code requiredBytes + headroomBytes} rounded up to a power of two
 */
public record MmioAperture(List<PortWindow> windows, long headroomBytes, long requiredBytes,
    long sizeBytes) {

  /** Bridge windows are allocated in 1 MiB units. */
  public static final long BRIDGE_WINDOW_GRANULARITY = 1L << 20;
  private static final long GIB = 1L << 30;
  private static final long FOUR_GIB = 4 * GIB;

  /**
   * One root port's 64-bit prefetchable window.
   *
   * @param port the root port's id
   * @param offset where the window starts, from the aperture base
   * @param size the window's size (a multiple of 1 MiB)
   * @param alignment the window's alignment (its largest BAR, at least 1 MiB)
   * @param bars the BARs placed in the window
   */
  public record PortWindow(String port, long offset, long size, long alignment,
      List<PlacedBar> bars) {
    public PortWindow {
      Objects.requireNonNull(port, "port");
      bars = List.copyOf(bars);
    }

    /** The first address after the window, from the aperture base. */
    public long end() {
      return offset + size;
    }
  }

  /**
   * One BAR's place in the aperture.
   *
   * @param device the host function the BAR belongs to
   * @param index the BAR index
   * @param offset where the BAR starts, from the aperture base
   * @param size the space it takes: its size rounded up to a power of two
   */
  public record PlacedBar(PciAddress device, int index, long offset, long size) {
    public PlacedBar {
      Objects.requireNonNull(device, "device");
    }
  }

  public MmioAperture {
    windows = List.copyOf(windows);
  }

  /** A builder; add one port per root port. */
  public static Builder builder() {
    return new Builder();
  }

  /** The aperture in MiB, the unit of {@code opt/ovmf/X-PciMmio64Mb}. */
  public long sizeMiB() {
    return sizeBytes >> 20;
  }

  /**
   * The guest physical address bits the aperture needs when OVMF places it after the guest's RAM:
   * the end of RAM (taken as 4 GiB + {@code guestMemoryBytes}, an upper bound on q35) rounded up to
   * 1 GiB and then to the aperture's size, plus the aperture.
   */
  public int requiredPhysBits(long guestMemoryBytes) {
    if (guestMemoryBytes < 0) {
      throw new InvalidValueException("guest memory must not be negative, was "
          + guestMemoryBytes);
    }
    long firstNonAddress = alignUp(Math.addExact(FOUR_GIB, guestMemoryBytes), GIB);
    long base = alignUp(firstNonAddress, sizeBytes);
    long end = Math.addExact(base, sizeBytes);
    return 64 - Long.numberOfLeadingZeros(end - 1);
  }

  /** {@code 4T aperture (3840G+96M required, 8 windows)}. */
  @Override
  public String toString() {
    return Sizes.of(sizeBytes) + " aperture (" + Sizes.of(requiredBytes)
        + " required, " + windows.size() + " windows)";
  }

  static long alignUp(long value, long alignment) {
    long rem = value % alignment;
    return rem == 0 ? value : Math.addExact(value, alignment - rem);
  }

  /** Builds an {@link MmioAperture}: ports with their devices, reservations, headroom. */
  public static final class Builder {
    private record Port(String id, List<PciDevice> devices, long reserve) {}

    private final List<Port> ports = new ArrayList<>();
    private final Set<String> ids = new HashSet<>();
    private long headroom;

    private Builder() {}

    /** A root port and the devices behind it. */
    public Builder port(String id, List<PciDevice> devices) {
      return add(new Port(id, List.copyOf(devices), 0));
    }

    /** An empty hotplug root port with a 64-bit prefetchable reservation. */
    public Builder reservedPort(String id, long reserveBytes) {
      if (reserveBytes <= 0) {
        throw new InvalidValueException("reservation of port " + id
            + " must be positive, was " + reserveBytes);
      }
      return add(new Port(id, List.of(), reserveBytes));
    }

    /** Space added for the VM's other 64-bit BARs before the aperture is rounded up. */
    public Builder headroomBytes(long bytes) {
      if (bytes < 0) {
        throw new InvalidValueException("headroom must not be negative, was " + bytes);
      }
      this.headroom = bytes;
      return this;
    }

    private Builder add(Port p) {
      Objects.requireNonNull(p.id(), "port id");
      if (!ids.add(p.id())) {
        throw new InvalidValueException("port " + p.id() + " added twice");
      }
      ports.add(p);
      return this;
    }

    public MmioAperture build() {
      List<PortWindow> unplaced = new ArrayList<>();
      for (Port p : ports) {
        window(p).ifPresent(unplaced::add);
      }
      unplaced.sort(Comparator.comparingLong(PortWindow::alignment).reversed()
          .thenComparing(Comparator.comparingLong(PortWindow::size).reversed()));
      List<PortWindow> placed = new ArrayList<>();
      long offset = 0;
      for (PortWindow w : unplaced) {
        offset = alignUp(offset, w.alignment());
        long base = offset;
        List<PlacedBar> bars = w.bars().stream()
            .map(b -> new PlacedBar(b.device(), b.index(), Math.addExact(base, b.offset()),
                b.size()))
            .toList();
        placed.add(new PortWindow(w.port(), base, w.size(), w.alignment(), bars));
        offset = Math.addExact(offset, w.size());
      }
      long required = offset;
      long size = ceilingPowerOfTwo(Math.max(BRIDGE_WINDOW_GRANULARITY,
          Math.addExact(required, headroom)));
      return new MmioAperture(placed, headroom, required, size);
    }

    private static Optional<PortWindow> window(Port p) {
      record Item(PciAddress device, Bar bar, long slot) {}
      List<Item> items = new ArrayList<>();
      for (PciDevice d : p.devices()) {
        for (Bar b : d.bars()) {
          if (!b.io() && b.is64Bit() && b.prefetchable()) {
            items.add(new Item(d.address(), b, ceilingPowerOfTwo(b.size())));
          }
        }
      }
      items.sort(Comparator.comparingLong(Item::slot).reversed()
          .thenComparing(Item::device).thenComparingInt(i -> i.bar().index()));
      List<PlacedBar> bars = new ArrayList<>();
      long offset = 0;
      long alignment = BRIDGE_WINDOW_GRANULARITY;
      for (Item i : items) {
        offset = alignUp(offset, i.slot());
        bars.add(new PlacedBar(i.device(), i.bar().index(), offset, i.slot()));
        offset = Math.addExact(offset, i.slot());
        alignment = Math.max(alignment, i.slot());
      }
      long size = Math.max(offset, p.reserve());
      if (size == 0) {
        return Optional.empty();
      }
      if (p.reserve() > 0) {
        alignment = Math.max(alignment, Long.highestOneBit(p.reserve()));
      }
      size = alignUp(size, BRIDGE_WINDOW_GRANULARITY);
      return Optional.of(new PortWindow(p.id(), 0, size, alignment, bars));
    }
  }

  /** The smallest power of two at least {@code x}; {@code x} positive, at most 2^62. */
  static long ceilingPowerOfTwo(long x) {
    if (x <= 0) {
      throw new IllegalArgumentException("not positive: " + x);
    }
    if (x > (1L << 62)) {
      throw new ArithmeticException("no power of two >= " + x + " fits in a long");
    }
    return x == 1 ? 1 : Long.highestOneBit(x - 1) << 1;
  }
}
