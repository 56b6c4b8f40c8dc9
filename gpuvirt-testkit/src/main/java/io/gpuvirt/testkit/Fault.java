package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.host.HostPaths;
import io.gpuvirt.core.pci.PciAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * A fault to inject into a simulated host with {@link SimulatedHost#inject(Fault)}: the next
 * matching operation fails the way Linux fails it (the same errno, so the same
 * {@link io.gpuvirt.core.host.HostAccessException} message a real host gives).
 *
 * <p>A fault fires once unless made {@link #times(int) to fire several times} or
 * {@link #persistent()}. Faults live in the host's tree, so a second process that opens the same
 * host sees them.
 *
 * <pre>{@code
 * host.inject(Fault.unbindBusy(gpu));               // the next unbind of gpu: EBUSY
 * host.inject(Fault.resetFails(gpu).persistent());  // every reset of gpu: EIO
 * }</pre>
 */
public final class Fault {
  /** What a fault breaks. */
  enum Kind {
    UNBIND_BUSY, PROBE_FAILS, BIND_FAILS, RESET_FAILS, SRIOV_FAILS, WRITE_FAILS, READ_FAILS
  }

  static final int PERSISTENT = -1;

  private final Kind kind;
  private final Optional<PciAddress> device;
  private final Optional<String> path;
  private final int remaining;

  Fault(Kind kind, Optional<PciAddress> device, Optional<String> path, int remaining) {
    this.kind = kind;
    this.device = device;
    this.path = path;
    this.remaining = remaining;
  }

  private static Fault on(Kind kind, PciAddress device) {
    return new Fault(kind, Optional.of(Objects.requireNonNull(device, "device")), Optional.empty(),
        1);
  }

  /**
   * Unbinding {@code device} (a write of its BDF to {@code drivers/<d>/unbind}, or to its
   * {@code driver/unbind}) fails with EBUSY ("Device or resource busy") and leaves it bound.
   */
  public static Fault unbindBusy(PciAddress device) {
    return on(Kind.UNBIND_BUSY, device);
  }

  /**
   * The driver's probe of {@code device} fails with -EIO and the device stays unbound. As on
   * Linux, a write to {@code drivers_probe} (or {@code new_id}) still succeeds (the kernel only
   * logs the failure); a write to {@code drivers/<d>/bind} fails with EIO ("Input/output error").
   */
  public static Fault probeFails(PciAddress device) {
    return on(Kind.PROBE_FAILS, device);
  }

  /**
   * A write of {@code device} to any {@code drivers/<d>/bind} fails with ENODEV ("No such
   * device") and binds nothing; {@code drivers_probe} is not affected.
   */
  public static Fault bindFails(PciAddress device) {
    return on(Kind.BIND_FAILS, device);
  }

  /** A write of {@code 1} to the device's {@code reset} fails with EIO ("Input/output error"). */
  public static Fault resetFails(PciAddress device) {
    return on(Kind.RESET_FAILS, device);
  }

  /**
   * A write that changes the device's {@code sriov_numvfs} fails with EIO (the PF driver's
   * {@code sriov_configure} failed) and changes nothing.
   */
  public static Fault sriovFails(PciAddress device) {
    return on(Kind.SRIOV_FAILS, device);
  }

  /** Any write to this host path fails with EIO and changes nothing. */
  public static Fault writeFails(String hostPath) {
    return new Fault(Kind.WRITE_FAILS, Optional.empty(), Optional.of(HostPaths.check(hostPath)), 1);
  }

  /** Any read of this host path fails with EIO. */
  public static Fault readFails(String hostPath) {
    return new Fault(Kind.READ_FAILS, Optional.empty(), Optional.of(HostPaths.check(hostPath)), 1);
  }

  /** The same fault, firing {@code count} times (1 or more) before it is used up. */
  public Fault times(int count) {
    if (count < 1) {
      throw new InvalidValueException("a fault fires 1 or more times, not " + count
          + "; use persistent() for a fault that never runs out");
    }
    return new Fault(kind, device, path, count);
  }

  /** The same fault, firing every time until {@link SimulatedHost#clearFaults()}. */
  public Fault persistent() {
    return new Fault(kind, device, path, PERSISTENT);
  }

  /** Whether it fires until cleared. */
  public boolean isPersistent() {
    return remaining == PERSISTENT;
  }

  /** How many more times it fires; -1 for a persistent fault. */
  public int remaining() {
    return remaining;
  }

  /** The device it targets, for device faults. */
  public Optional<PciAddress> device() {
    return device;
  }

  /** The host path it targets, for path faults. */
  public Optional<String> path() {
    return path;
  }

  Kind kind() {
    return kind;
  }

  boolean matches(Kind k, PciAddress d) {
    return kind == k && device.equals(Optional.of(d));
  }

  boolean matches(Kind k, String hostPath) {
    return kind == k && path.equals(Optional.of(hostPath));
  }

  /** This fault after it fired once; empty when used up. */
  Optional<Fault> fired() {
    if (remaining == PERSISTENT) {
      return Optional.of(this);
    }
    return remaining > 1 ? Optional.of(new Fault(kind, device, path, remaining - 1))
        : Optional.empty();
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Fault)) {
      return false;
    }
    Fault f = (Fault) o;
    return kind == f.kind && device.equals(f.device) && path.equals(f.path)
        && remaining == f.remaining;
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, device, path, remaining);
  }

  @Override
  public String toString() {
    String name = kind.name().toLowerCase(java.util.Locale.ROOT);
    return "Fault[" + name + " " + device.map(Object::toString).orElseGet(path::get) + ", "
        + (remaining == PERSISTENT ? "persistent" : remaining + "x") + "]";
  }
}
