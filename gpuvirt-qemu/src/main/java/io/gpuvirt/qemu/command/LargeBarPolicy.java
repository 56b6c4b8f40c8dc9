package io.gpuvirt.qemu.command;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.qemu.QemuVersion;
import java.util.Objects;

/**
 * How the command builder handles devices with very large BARs (a B200's 256 GiB VRAM aperture):
 * when to disable BAR mmap, whether to hide option ROMs, how much 64-bit window to reserve on
 * hotplug ports, and how to size the firmware's 64-bit MMIO aperture.
 *
 * <p>Every threshold is a policy because the facts behind it are not settled. The one field report
 * (Ubicloud's HGX B200 post) says QEMU 8.2 stalls the boot for minutes to over an hour with 4 to 8
 * B200s and that QEMU 10.1 fixes it; the QEMU history shows the relevant change in 9.2 (BAR mmaps
 * aligned so the kernel can use 1 GiB mappings) and most of the speed-up in the host kernel (huge
 * pfnmap in 6.12), and distribution builds backport. Lower {@link Builder#noMmapBelowVersion} when
 * you have measured your QEMU and kernel.
 *
 * <table>
 * <caption>Defaults</caption>
 * <tr><th>setting</th><th>default</th><th>why</th></tr>
 * <tr><td>{@link #noMmap()}</td><td>{@link NoMmapMode#AUTO}</td><td>x-no-mmap only where the
 * stall is expected</td></tr>
 * <tr><td>{@link #noMmapBelowVersion()}</td><td>10.1.0</td><td>the field report's fixed
 * version</td></tr>
 * <tr><td>{@link #noMmapMinTotalBarBytes()}</td><td>1 TiB</td><td>the stall was reported with 4
 * to 8 B200s (4 x 256 GiB and up), not with one or two</td></tr>
 * <tr><td>{@link #largeBarBytes()}</td><td>32 GiB</td><td>above consumer cards' resizable BARs,
 * below every data-centre GPU's VRAM aperture (A100 64 GiB, H100 128 GiB, B200 256 GiB)</td></tr>
 * <tr><td>{@link #romBarOff()}</td><td>false</td><td>QEMU's default ROM BAR is harmless for
 * compute GPUs; turn off to hide option ROMs</td></tr>
 * <tr><td>{@link #hotplugPref64ReserveBytes()}</td><td>512 GiB</td><td>fits one B200 (256 GiB +
 * 96 MiB at natural alignment)</td></tr>
 * <tr><td>{@link #firmwareMmio64Bytes()}</td><td>32 GiB</td><td>OVMF's default
 * {@code PcdPciMmio64Size}</td></tr>
 * <tr><td>{@link #mmio64HeadroomBytes()}</td><td>1 GiB</td><td>room for the VM's other 64-bit
 * BARs (virtio devices)</td></tr>
 * </table>
 *
 * <pre>{@code
 * LargeBarPolicy measured = LargeBarPolicy.defaults().toBuilder()
 *     .noMmapBelowVersion(QemuVersion.of(9, 2, 0))   // we measured 9.2 on kernel 6.12
 *     .romBarOff(true)
 *     .build();
 * }</pre>
 *
 * @param noMmap when to set {@code x-no-mmap=true} on large-BAR devices
 * @param noMmapBelowVersion in {@code AUTO} mode, QEMU versions below this get x-no-mmap
 * @param noMmapMinTotalBarBytes in {@code AUTO} mode, the VM's large-BAR devices must have at
 *     least this many bytes of memory BARs together for x-no-mmap
 * @param largeBarBytes a device is a large-BAR device when one of its BARs is at least this big
 * @param romBarOff set {@code rombar=0} on GPU functions
 * @param hotplugPref64ReserveBytes {@code pref64-reserve} of each empty hotplug root port
 * @param firmwareMmio64Bytes the firmware's default 64-bit MMIO aperture; a larger need emits
 *     {@code -fw_cfg name=opt/ovmf/X-PciMmio64Mb}
 * @param mmio64HeadroomBytes added to the passthrough BARs' need before the aperture is rounded
 */
public record LargeBarPolicy(NoMmapMode noMmap, QemuVersion noMmapBelowVersion,
    long noMmapMinTotalBarBytes, long largeBarBytes, boolean romBarOff,
    long hotplugPref64ReserveBytes, long firmwareMmio64Bytes, long mmio64HeadroomBytes) {

  /** 1 GiB. */
  static final long GIB = 1L << 30;
  /** 1 TiB. */
  static final long TIB = 1L << 40;

  private static final LargeBarPolicy DEFAULTS = new LargeBarPolicy(NoMmapMode.AUTO,
      QemuVersion.of(10, 1, 0), TIB, 32 * GIB, false, 512 * GIB, 32 * GIB, GIB);

  /** When {@code x-no-mmap=true} is set on large-BAR devices. */
  public enum NoMmapMode {
    /** When QEMU is older than the threshold version and the VM's large BARs reach the total. */
    AUTO,
    /** On every large-BAR device, whatever the QEMU version. */
    ALWAYS,
    /** Never. */
    NEVER
  }

  public LargeBarPolicy {
    Objects.requireNonNull(noMmap, "noMmap");
    Objects.requireNonNull(noMmapBelowVersion, "noMmapBelowVersion");
    nonNegative("noMmapMinTotalBarBytes", noMmapMinTotalBarBytes);
    positive("largeBarBytes", largeBarBytes);
    positive("hotplugPref64ReserveBytes", hotplugPref64ReserveBytes);
    if (hotplugPref64ReserveBytes % (1L << 20) != 0) {
      throw new InvalidValueException("hotplugPref64ReserveBytes must be a whole number of MiB"
          + " (bridge windows have 1 MiB granularity), was " + hotplugPref64ReserveBytes);
    }
    positive("firmwareMmio64Bytes", firmwareMmio64Bytes);
    nonNegative("mmio64HeadroomBytes", mmio64HeadroomBytes);
  }

  /** The documented defaults (see the class description). */
  public static LargeBarPolicy defaults() {
    return DEFAULTS;
  }

  /** A builder starting from these values. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  private static void positive(String name, long value) {
    if (value <= 0) {
      throw new InvalidValueException(name + " must be positive, was " + value);
    }
  }

  private static void nonNegative(String name, long value) {
    if (value < 0) {
      throw new InvalidValueException(name + " must not be negative, was " + value);
    }
  }

  @Override
  public String toString() {
    return "LargeBarPolicy[noMmap=" + noMmap + " below " + noMmapBelowVersion.number()
        + " from " + Sizes.of(noMmapMinTotalBarBytes) + ", largeBar>="
        + Sizes.of(largeBarBytes) + ", romBarOff=" + romBarOff + ", hotplugPref64Reserve="
        + Sizes.of(hotplugPref64ReserveBytes) + ", firmwareMmio64="
        + Sizes.of(firmwareMmio64Bytes) + ", headroom="
        + Sizes.of(mmio64HeadroomBytes) + "]";
  }

  /** Builds a {@link LargeBarPolicy}; {@link #build()} validates and names the bad value. */
  public static final class Builder {
    private NoMmapMode noMmap;
    private QemuVersion noMmapBelowVersion;
    private long noMmapMinTotalBarBytes;
    private long largeBarBytes;
    private boolean romBarOff;
    private long hotplugPref64ReserveBytes;
    private long firmwareMmio64Bytes;
    private long mmio64HeadroomBytes;

    private Builder(LargeBarPolicy p) {
      noMmap = p.noMmap;
      noMmapBelowVersion = p.noMmapBelowVersion;
      noMmapMinTotalBarBytes = p.noMmapMinTotalBarBytes;
      largeBarBytes = p.largeBarBytes;
      romBarOff = p.romBarOff;
      hotplugPref64ReserveBytes = p.hotplugPref64ReserveBytes;
      firmwareMmio64Bytes = p.firmwareMmio64Bytes;
      mmio64HeadroomBytes = p.mmio64HeadroomBytes;
    }

    public Builder noMmap(NoMmapMode value) {
      this.noMmap = value;
      return this;
    }

    public Builder noMmapBelowVersion(QemuVersion value) {
      this.noMmapBelowVersion = value;
      return this;
    }

    public Builder noMmapMinTotalBarBytes(long value) {
      this.noMmapMinTotalBarBytes = value;
      return this;
    }

    public Builder largeBarBytes(long value) {
      this.largeBarBytes = value;
      return this;
    }

    public Builder romBarOff(boolean value) {
      this.romBarOff = value;
      return this;
    }

    public Builder hotplugPref64ReserveBytes(long value) {
      this.hotplugPref64ReserveBytes = value;
      return this;
    }

    public Builder firmwareMmio64Bytes(long value) {
      this.firmwareMmio64Bytes = value;
      return this;
    }

    public Builder mmio64HeadroomBytes(long value) {
      this.mmio64HeadroomBytes = value;
      return this;
    }

    public LargeBarPolicy build() {
      return new LargeBarPolicy(noMmap, noMmapBelowVersion, noMmapMinTotalBarBytes,
          largeBarBytes, romBarOff, hotplugPref64ReserveBytes, firmwareMmio64Bytes,
          mmio64HeadroomBytes);
    }
  }
}
