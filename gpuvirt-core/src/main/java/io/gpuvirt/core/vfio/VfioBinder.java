package io.gpuvirt.core.vfio;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.HostPaths;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.IommuGroup;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves whole IOMMU groups to a VFIO driver and back, through {@link Sysfs} only.
 *
 * <p>Binding uses {@code driver_override} (never {@code new_id}): write the driver to
 * {@code driver_override}, unbind from the current driver if any, write the address to
 * {@code drivers_probe}, verify the {@code driver} link, clear {@code driver_override}. Every
 * endpoint of each requested device's IOMMU group is bound (the audio function goes with its GPU);
 * bridges (class exactly 0x0600/0x0604, or a device with a {@code pci_bus} directory) are left
 * alone. A device already on the target driver is left alone and recorded as such. If any step
 * fails, every device already moved goes back to its original driver and {@code driver_override}
 * before the error is thrown.
 *
 * <p>Restoring undoes exactly what binding did: only devices gpuvirt bound, and only while they are
 * still on the driver gpuvirt put them on, go back to the driver and {@code driver_override} they
 * had. A restore either completes or leaves every device as it was.
 *
 * <pre>{@code
 * VfioBinder binder = VfioBinder.on(Sysfs.host());
 * BindResult bound = binder.bind(BindRequest.builder().device(PciAddress.parse("0000:17:00.0")).build());
 * // ... run the VM with bound.groups() ...
 * binder.restore(bound.devices());
 * }</pre>
 */
public final class VfioBinder {
  private static final Logger LOG = LoggerFactory.getLogger(VfioBinder.class);
  private static final String DRIVERS = "/sys/bus/pci/drivers";
  private static final String DRIVERS_PROBE = "/sys/bus/pci/drivers_probe";

  private final Sysfs sysfs;

  private VfioBinder(Sysfs sysfs) {
    this.sysfs = Objects.requireNonNull(sysfs, "sysfs");
  }

  /** A binder for the host behind {@code sysfs}. */
  public static VfioBinder on(Sysfs sysfs) {
    return new VfioBinder(sysfs);
  }

  /**
   * The endpoints that binding {@code request} would move: every non-bridge member of each
   * requested device's IOMMU group, checked for foreign devices. Changes nothing.
   *
   * @throws GroupRefusedException if the IOMMU is off, a device has no group, a group holds an
   *     endpoint that was neither requested, a function of a requested slot, nor allowed, the
   *     driver is not a VFIO driver (unless {@link BindRequest#allowNonVfioDriver()}), or an
   *     endpoint backs a mounted filesystem (unless {@link BindRequest#allowMountedDevices()})
   * @throws io.gpuvirt.core.pci.UnknownDeviceException if a requested device does not exist
   */
  public List<PciDevice> plan(BindRequest request) {
    return plan(request, TopologyScanner.scan(sysfs));
  }

  /**
   * As {@link #plan(BindRequest)}, against {@code topology}, a scan of this host the caller has
   * just taken (under its operation lock), so that one operation scans the host once.
   */
  public List<PciDevice> plan(BindRequest request, Topology topology) {
    Objects.requireNonNull(topology, "topology");
    for (PciAddress address : request.sortedDevices()) {
      topology.require(address);
    }
    if (!request.allowNonVfioDriver() && !VfioDrivers.isVfioDriver(request.driver())) {
      throw new GroupRefusedException("refusing to bind " + request.sortedDevices() + " to "
          + request.driver() + ": it is not a VFIO driver (vfio-pci, or a variant whose name ends"
          + " in -vfio-pci or _vfio_pci), so the devices would go to another host driver instead"
          + " of a VM; bind to vfio-pci, or allow it explicitly (BindRequest.Builder"
          + ".allowNonVfioDriver(true), --allow-non-vfio-driver) if that is what you mean",
          List.of());
    }
    if (!topology.iommuEnabled()) {
      throw new GroupRefusedException("cannot bind " + request.sortedDevices() + " to "
          + request.driver() + ": the IOMMU is off on " + topology.source()
          + " (/sys/kernel/iommu_groups is empty); add intel_iommu=on iommu=pt (or amd_iommu=on"
          + " iommu=pt) to GRUB_CMDLINE_LINUX_DEFAULT, run update-grub and reboot", List.of());
    }
    TreeSet<Integer> groupNumbers = new TreeSet<>();
    for (PciAddress address : request.sortedDevices()) {
      PciDevice device = topology.require(address);
      if (device.iommuGroup().isEmpty()) {
        throw new GroupRefusedException("cannot bind " + address + ": it has no IOMMU group on "
            + topology.source() + "; check that the IOMMU covers this device", List.of());
      }
      if (isBridge(device)) {
        throw new GroupRefusedException("cannot bind " + address + ": it is a bridge ("
            + device.pciClass() + "); only endpoints can be passed through", List.of());
      }
      groupNumbers.add(device.iommuGroup().getAsInt());
    }
    Set<PciAddress> requestedSlots = request.devices().stream().map(a -> a.withFunction(0))
        .collect(Collectors.toSet());
    List<PciDevice> endpoints = new ArrayList<>();
    for (int number : groupNumbers) {
      IommuGroup group = topology.iommuGroup(number).orElseThrow(() -> new GroupRefusedException(
          "IOMMU group " + number + " is named by a device but missing from"
              + " /sys/kernel/iommu_groups on " + topology.source(), List.of()));
      List<PciAddress> foreign = new ArrayList<>();
      for (PciDevice member : topology.members(group)) {
        if (isBridge(member)) {
          continue;
        }
        boolean wanted = request.devices().contains(member.address())
            || requestedSlots.contains(member.address().withFunction(0))
            || request.allowedForeignDevices().contains(member.address());
        if (!wanted) {
          foreign.add(member.address());
        }
        endpoints.add(member);
      }
      if (!foreign.isEmpty()) {
        StringBuilder names = new StringBuilder();
        for (PciAddress f : foreign) {
          PciDevice d = topology.require(f);
          names.append(names.length() == 0 ? "" : ", ").append(f).append(" (").append(d.id())
              .append(", class ").append(d.pciClass()).append(", driver ")
              .append(d.driver().orElse("none")).append(')');
        }
        throw new GroupRefusedException("refusing to bind IOMMU group " + number + ": it also"
            + " holds " + names + ", which was not requested; a VM must get whole groups."
            + " Allow the device explicitly (--allow " + foreign.get(0) + ") if it should go to"
            + " the same VM, or move the GPU to a slot whose PCIe switch has ACS", foreign);
      }
    }
    for (PciDevice d : endpoints) {
      if (d.sriov().isPresent() && d.sriov().get().numVfs() > 0) {
        throw new GroupRefusedException("cannot bind " + d.address() + ": it has "
            + d.sriov().get().numVfs() + " SR-IOV VFs enabled; disable them first (write 0 to "
            + d.address().sysfsPath("sriov_numvfs") + ")", List.of());
      }
    }
    endpoints.sort((a, b) -> a.address().compareTo(b.address()));
    if (!request.allowMountedDevices()) {
      refuseMounted(endpoints, topology);
    }
    return List.copyOf(endpoints);
  }

  /**
   * Refuses endpoints that back a mounted filesystem (unbinding them would pull the filesystem,
   * often {@code /}, from under the host), and a host whose mount table cannot be read.
   */
  private void refuseMounted(List<PciDevice> endpoints, Topology topology) {
    List<PciAddress> addresses = endpoints.stream().map(PciDevice::address).toList();
    Optional<List<MountedDevices.Backing>> backings = MountedDevices.of(sysfs);
    if (backings.isEmpty()) {
      throw new GroupRefusedException("cannot bind " + addresses + ": gpuvirt cannot tell whether"
          + " they back a mounted filesystem, because " + MountedDevices.MOUNTS + " does not exist"
          + " on " + topology.source() + "; mount /proc, or allow it explicitly (BindRequest"
          + ".Builder.allowMountedDevices(true), --allow-mounted)", List.of());
    }
    TreeMap<PciAddress, List<String>> mounted = new TreeMap<>();
    for (MountedDevices.Backing b : backings.get()) {
      if (addresses.contains(b.device())) {
        mounted.computeIfAbsent(b.device(), d -> new ArrayList<>()).add(b.describe());
      }
    }
    if (mounted.isEmpty()) {
      return;
    }
    StringBuilder what = new StringBuilder();
    mounted.forEach((device, mounts) -> {
      PciDevice d = topology.require(device);
      what.append(what.length() == 0 ? "" : "; ").append(device).append(" (").append(d.id())
          .append(", driver ").append(d.driver().orElse("none")).append(") backs ")
          .append(String.join(", ", mounts));
    });
    throw new GroupRefusedException("refusing to bind: " + what + ". Unbinding it would take"
        + " the filesystem away from this host; unmount it first, or allow it explicitly"
        + " (BindRequest.Builder.allowMountedDevices(true), --allow-mounted) if you are sure",
        List.copyOf(mounted.keySet()));
  }

  /** The one bridge rule, {@link PciDevice#isBridge()}; bridges stay on the host. */
  private static boolean isBridge(PciDevice device) {
    return device.isBridge();
  }

  /**
   * Binds the IOMMU groups of the requested devices to the requested VFIO driver. Devices already
   * on it are left alone ({@link DeviceBinding#boundByGpuvirt()} false), so binding twice is a
   * no-op the second time ({@link BindResult#alreadyBound()}).
   *
   * @throws GroupRefusedException before any change, when a group cannot be handed over whole,
   *     the driver is not a VFIO driver or an endpoint backs a mounted filesystem (see
   *     {@link #plan})
   * @throws io.gpuvirt.core.pci.UnknownDeviceException before any change, for a device the host
   *     does not have
   * @throws BindException when a step fails; it names the device, the step and the reason, and by
   *     then the devices moved so far are back on their original drivers
   */
  public BindResult bind(BindRequest request) {
    return bind(request, TopologyScanner.scan(sysfs));
  }

  /**
   * As {@link #bind(BindRequest)}, with the groups taken from {@code topology}, a scan of this
   * host the caller has just taken (under its operation lock), so that one operation scans the
   * host once. The driver and {@code driver_override} of each device to move are read again from
   * the host here: the bindings record what the device has now, not what the scan saw.
   */
  public BindResult bind(BindRequest request, Topology topology) {
    Objects.requireNonNull(topology, "topology");
    List<PciDevice> endpoints = plan(request, topology);
    String driver = request.driver();
    List<DeviceBinding> all = new ArrayList<>();
    for (PciDevice device : endpoints) {
      Optional<String> now = currentDriver(device.address());
      boolean onDriver = now.equals(Optional.of(driver));
      all.add(new DeviceBinding(device.address(), device.iommuGroup().getAsInt(),
          now, driverOverride(device.address()), driver, !onDriver));
    }
    Optional<DeviceBinding> firstToMove = all.stream().filter(DeviceBinding::boundByGpuvirt)
        .findFirst();
    if (firstToMove.isPresent() && !sysfs.isDirectory(HostPaths.join(DRIVERS, driver))) {
      throw new BindException(firstToMove.get().address(), BindStep.CHECK, "cannot bind "
          + request.sortedDevices() + ": driver " + driver + " is not loaded ("
          + DRIVERS + "/" + driver + " does not exist); run 'modprobe "
          + driver.replace('-', '_') + "' and add it to /etc/modules-load.d/vfio.conf", null);
    }
    Deque<DeviceBinding> moved = new ArrayDeque<>();
    for (int i = 0; i < endpoints.size(); i++) {
      PciDevice device = endpoints.get(i);
      DeviceBinding binding = all.get(i);
      if (!binding.boundByGpuvirt()) {
        LOG.info("{} is already on {}; nothing to do", device.address(), driver);
        continue;
      }
      LOG.info("binding {} ({}) from {} to {}", device.address(), device.id(),
          binding.originalDriver().orElse("no driver"), driver);
      try {
        if (request.resetBeforeBind() && device.resettable()) {
          step(device.address(), BindStep.RESET, device.address().sysfsPath("reset"), "1");
        }
        moveTo(device.address(), Optional.of(driver), Optional.empty());
      } catch (BindException e) {
        moved.push(binding);
        throw rolledBack("binding " + device.address() + " to " + driver, driver, e,
            undo(moved, this::restoreOriginal), "back on its original driver");
      }
      moved.push(binding);
    }
    return new BindResult(all, deviceNodes(topology, all));
  }

  /**
   * Puts devices gpuvirt bound back on their original drivers (and {@code driver_override}s), in
   * reverse order. Devices gpuvirt did not bind, that are gone, or that are no longer on the driver
   * it put them on, are left alone and reported in {@link RestoreResult#untouched()}.
   *
   * <p>All or nothing: if a step fails, the devices restored so far go back on the VFIO driver
   * before the {@link BindException} is thrown, so the bindings stay valid for a retry.
   *
   * @throws GroupRefusedException before any change, if restoring would split an IOMMU group: a
   *     member of a restored device's group is on the VFIO driver but has no binding in the list
   * @throws BindException naming the device, the step and the reason, when a step fails
   */
  public RestoreResult restore(List<DeviceBinding> bindings) {
    return restore(bindings, () -> TopologyScanner.scan(sysfs));
  }

  /**
   * As {@link #restore(List)}, with the IOMMU groups' members taken from {@code topology}, a scan
   * of this host the caller has just taken (under its operation lock); the drivers of the members
   * are read again from the host.
   */
  public RestoreResult restore(List<DeviceBinding> bindings, Topology topology) {
    Objects.requireNonNull(topology, "topology");
    return restore(bindings, () -> topology);
  }

  private RestoreResult restore(List<DeviceBinding> bindings,
      java.util.function.Supplier<Topology> topology) {
    Map<PciAddress, String> untouched = new LinkedHashMap<>();
    List<DeviceBinding> todo = new ArrayList<>();
    for (DeviceBinding b : reversed(bindings)) {
      if (!b.boundByGpuvirt()) {
        untouched.put(b.address(), "was already on " + b.driver() + " before gpuvirt bound it");
      } else if (!sysfs.exists(b.address().sysfsPath())) {
        untouched.put(b.address(), "no longer present on the host");
      } else {
        Optional<String> now = currentDriver(b.address());
        if (now.equals(Optional.of(b.driver()))) {
          todo.add(b);
        } else {
          untouched.put(b.address(), "is on " + now.orElse("no driver") + ", not " + b.driver()
              + "; someone else changed it, so gpuvirt leaves it alone");
        }
      }
    }
    if (!todo.isEmpty()) {
      refuseSplit(bindings, todo, topology.get());
    }
    Deque<DeviceBinding> restored = new ArrayDeque<>();
    for (DeviceBinding b : todo) {
      LOG.info("restoring {} from {} to {}", b.address(), b.driver(),
          b.originalDriver().orElse("no driver"));
      try {
        restoreOriginal(b);
      } catch (BindException e) {
        restored.push(b);
        throw rolledBack("restoring " + b.address() + " to "
            + b.originalDriver().orElse("no driver"), b.originalDriver().orElse(b.driver()), e,
            undo(restored, this::rebind), "back on " + b.driver()
                + ", as before the restore; the bindings stay valid for a retry");
      }
      restored.push(b);
    }
    List<PciAddress> addresses = new ArrayList<>();
    restored.descendingIterator().forEachRemaining(b -> addresses.add(b.address()));
    return new RestoreResult(addresses, untouched);
  }

  /** Refuses a restore that would leave a group half on the VFIO driver and half on host drivers. */
  private void refuseSplit(List<DeviceBinding> bindings, List<DeviceBinding> todo,
      Topology topology) {
    Set<PciAddress> listed = bindings.stream().map(DeviceBinding::address)
        .collect(Collectors.toSet());
    TreeMap<Integer, String> drivers = new TreeMap<>();
    todo.forEach(b -> drivers.put(b.iommuGroup(), b.driver()));
    for (Map.Entry<Integer, String> e : drivers.entrySet()) {
      Optional<IommuGroup> group = topology.iommuGroup(e.getKey());
      if (group.isEmpty()) {
        continue;
      }
      List<PciAddress> left = new ArrayList<>();
      for (PciDevice member : topology.members(group.get())) {
        if (!isBridge(member) && !listed.contains(member.address())
            && currentDriver(member.address()).equals(Optional.of(e.getValue()))) {
          left.add(member.address());
        }
      }
      if (!left.isEmpty()) {
        throw new GroupRefusedException("refusing to restore IOMMU group " + e.getKey()
            + " in part: " + left + " would stay on " + e.getValue() + " while the rest goes"
            + " back to host drivers; restore every binding of the group together", left);
      }
    }
  }

  /**
   * Puts back devices whose binding or restore was interrupted (a crash between steps): a device
   * gpuvirt was moving that is now on the VFIO driver or on no driver goes back to its original
   * driver, and a {@code driver_override} left set to the VFIO driver (or to the original driver, by an
   * interrupted restore) is put back as it was. A
   * device on any other driver is left alone and reported. Every device is attempted; a
   * {@link BindException} for the first failure is thrown afterwards, with the others suppressed.
   * Used by recovery; {@link #restore} is the normal path.
   */
  public RestoreResult recover(List<DeviceBinding> bindings) {
    List<PciAddress> restored = new ArrayList<>();
    Map<PciAddress, String> untouched = new LinkedHashMap<>();
    BindException first = null;
    for (DeviceBinding b : reversed(bindings)) {
      if (!b.boundByGpuvirt()) {
        untouched.put(b.address(), "was already on " + b.driver() + " before gpuvirt bound it");
        continue;
      }
      if (!sysfs.exists(b.address().sysfsPath())) {
        untouched.put(b.address(), "no longer present on the host");
        continue;
      }
      Optional<String> now = currentDriver(b.address());
      // Binding sets the override to the VFIO driver, restoring sets it to the original driver:
      // a crash before the final step leaves either one behind.
      Optional<String> override = driverOverride(b.address());
      boolean overrideLeft = !override.equals(b.originalOverride())
          && (override.equals(Optional.of(b.driver()))
              || override.isPresent() && override.equals(b.originalDriver()));
      if (now.equals(b.originalDriver()) && !overrideLeft) {
        untouched.put(b.address(), "already on " + now.orElse("no driver") + " as before");
        continue;
      }
      if (!now.equals(b.originalDriver()) && now.isPresent()
          && !now.equals(Optional.of(b.driver()))) {
        untouched.put(b.address(), "is on " + now.get() + ", neither " + b.driver() + " nor its"
            + " original driver; someone else changed it, so gpuvirt leaves it alone");
        continue;
      }
      try {
        restoreOriginal(b);
        restored.add(b.address());
      } catch (BindException e) {
        BindException full = new BindException(e.device().orElse(b.address()), e.step(),
            "recovering " + b.address() + " to " + b.originalDriver().orElse("no driver")
                + " failed at " + e.step() + ": " + e.getMessage() + "; " + hint(e.step(),
                    b.originalDriver().orElse(b.driver())), e.getCause());
        if (first == null) {
          first = full;
        } else {
          first.addSuppressed(full);
        }
      }
    }
    if (first != null) {
      throw first;
    }
    return new RestoreResult(restored, untouched);
  }

  /** Moves a device to its original driver and puts its original {@code driver_override} back. */
  private void restoreOriginal(DeviceBinding b) {
    moveTo(b.address(), b.originalDriver(), b.originalOverride());
  }

  /** Moves a device back onto the VFIO driver with {@code driver_override} cleared. */
  private void rebind(DeviceBinding b) {
    moveTo(b.address(), Optional.of(b.driver()), Optional.empty());
  }

  /**
   * Brings a device onto {@code target} (unbound when empty) with {@code override} as its
   * {@code driver_override}, taking only the steps needed: set the override to the target,
   * unbind, probe, verify, and write the final override.
   */
  private void moveTo(PciAddress a, Optional<String> target, Optional<String> override) {
    try {
      moveStepByStep(a, target, override);
    } catch (BindException e) {
      throw e;
    } catch (GpuvirtException e) {
      // A read between the writes failed (the device fell off the bus, say): still a failed step
      // of this device, so that the caller rolls back what it already moved.
      throw new BindException(a, BindStep.CHECK, "reading the driver state of " + a
          + " failed: " + e.getMessage() + "; check that the device is still present (lspci -s "
          + a + ")", e);
    }
  }

  private void moveStepByStep(PciAddress a, Optional<String> target, Optional<String> override) {
    String bdf = a.toString();
    Optional<String> now = currentDriver(a);
    if (!now.equals(target)) {
      if (target.isPresent()) {
        step(a, BindStep.SET_OVERRIDE, a.sysfsPath("driver_override"), target.get());
      }
      if (now.isPresent()) {
        step(a, BindStep.UNBIND, a.sysfsPath("driver/unbind"), bdf);
      }
      if (target.isPresent()) {
        step(a, BindStep.PROBE, DRIVERS_PROBE, bdf);
        Optional<String> after = currentDriver(a);
        if (!after.equals(target)) {
          throw new BindException(a, BindStep.VERIFY, "after writing " + bdf + " to "
              + DRIVERS_PROBE + " the device is on " + after.orElse("no driver") + ", not "
              + target.get(), null);
        }
      }
    }
    if (!driverOverride(a).equals(override)) {
      step(a, BindStep.CLEAR_OVERRIDE, a.sysfsPath("driver_override"), override.orElse("\n"));
    }
  }

  /** Runs {@code action} on each device in {@code done} (most recent first); returns failures. */
  private static List<BindException> undo(Deque<DeviceBinding> done,
      java.util.function.Consumer<DeviceBinding> action) {
    List<BindException> failures = new ArrayList<>();
    for (DeviceBinding b : done) {
      try {
        action.accept(b);
      } catch (BindException e) {
        LOG.error("rolling back {} failed at {}: {}", b.address(), e.step(), e.getMessage());
        failures.add(e);
      }
    }
    return failures;
  }

  /** The exception for a failed operation after its rollback, saying how the rollback went. */
  private static BindException rolledBack(String operation, String driver,
      BindException failure, List<BindException> rollbackFailures, String rolledBackTo) {
    PciAddress device = failure.device().orElseThrow();
    StringBuilder message = new StringBuilder(operation).append(" failed at ")
        .append(failure.step()).append(": ").append(failure.getMessage()).append("; ")
        .append(hint(failure.step(), driver));
    if (rollbackFailures.isEmpty()) {
      message.append(". Rolled back: every device this call changed is ").append(rolledBackTo);
    } else {
      message.append(". Rolling back failed for ").append(rollbackFailures.stream()
          .map(e -> e.device().map(Object::toString).orElse("?") + " at " + e.step())
          .collect(Collectors.joining(", "))).append(": check those devices by hand ('lspci -k')"
          + " or retry the restore");
    }
    BindException e = new BindException(device, failure.step(), message.toString(),
        failure.getCause());
    rollbackFailures.forEach(e::addSuppressed);
    return e;
  }

  /** What to do about a failed step. */
  private static String hint(BindStep step, String driver) {
    switch (step) {
      case RESET:
        return "the function reset failed; check dmesg, or bind without a reset";
      case SET_OVERRIDE:
      case CLEAR_OVERRIDE:
        return "check that gpuvirt runs as root and that the kernel offers driver_override"
            + " (Linux 3.16 or later)";
      case UNBIND:
        return "the device is in use; stop what holds it (for a GPU: nvidia-persistenced, DCGM,"
            + " a display server, any CUDA process; see 'fuser -v /dev/nvidia*') and retry";
      case PROBE:
        return "the kernel refused the probe request; check dmesg";
      case VERIFY:
        return "check dmesg for " + driver + " probe errors and that " + driver
            + " is loaded and supports the device";
      default:
        return "check dmesg";
    }
  }

  private void step(PciAddress device, BindStep step, String path, String value) {
    try {
      sysfs.write(path, value);
    } catch (GpuvirtException e) {
      throw new BindException(device, step, e.getMessage(), e);
    }
  }

  /** The driver {@code device} is bound to now ({@code driver} link), empty when unbound. */
  public Optional<String> driverOf(PciAddress device) {
    return currentDriver(device);
  }

  /** The {@code driver_override} of {@code device} now, empty when unset ({@code (null)}). */
  public Optional<String> driverOverrideOf(PciAddress device) {
    return driverOverride(device);
  }

  /**
   * The iommufd character devices of {@code device} ({@code /dev/vfio/devices/vfioN}), sorted;
   * empty when the kernel exposes no {@code vfio-dev/} for it.
   */
  public List<String> iommufdDeviceNodes(PciAddress device) {
    String vfioDev = device.sysfsPath("vfio-dev");
    if (!sysfs.isDirectory(vfioDev)) {
      return List.of();
    }
    return sysfs.list(vfioDev).stream().filter(n -> n.matches("vfio[0-9]+")).sorted()
        .map(n -> "/dev/vfio/devices/" + n).toList();
  }

  private Optional<String> currentDriver(PciAddress a) {
    return TopologyScanner.driver(sysfs, a);
  }

  private Optional<String> driverOverride(PciAddress a) {
    return TopologyScanner.driverOverride(sysfs, a);
  }

  private static List<DeviceBinding> reversed(List<DeviceBinding> bindings) {
    List<DeviceBinding> out = new ArrayList<>(bindings);
    Collections.reverse(out);
    return out;
  }

  private List<VfioGroupNode> deviceNodes(Topology topology, List<DeviceBinding> bindings) {
    TreeMap<Integer, TreeSet<String>> byGroup = new TreeMap<>();
    for (DeviceBinding b : bindings) {
      byGroup.computeIfAbsent(b.iommuGroup(), g -> new TreeSet<>())
          .addAll(iommufdDeviceNodes(b.address()));
    }
    List<VfioGroupNode> nodes = new ArrayList<>();
    byGroup.forEach((group, cdevs) -> nodes.add(new VfioGroupNode(group,
        topology.iommuGroup(group).map(IommuGroup::vfioDevicePath).orElse("/dev/vfio/" + group),
        List.copyOf(cdevs))));
    return nodes;
  }
}
