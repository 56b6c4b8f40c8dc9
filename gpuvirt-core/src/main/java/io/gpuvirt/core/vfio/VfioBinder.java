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
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves whole IOMMU groups to a VFIO driver and back, through {@link Sysfs} only.
 *
 * <p>Binding uses {@code driver_override} (never {@code new_id}): write the driver to
 * {@code driver_override}, unbind from the current driver, write the address to
 * {@code drivers_probe}, verify the {@code driver} link, clear {@code driver_override}. A device
 * already on the target driver is left alone and recorded as such. If any step fails, every device
 * already moved goes back to its original driver before the error is thrown.
 *
 * <p>Restoring undoes exactly what binding did: only devices gpuvirt bound, and only while they are
 * still on the driver gpuvirt put them on, go back to the driver they had.
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
   * @throws GroupRefusedException if the IOMMU is off, a device has no group, or a group holds an
   *     endpoint that was neither requested, a function of a requested slot, nor allowed
   */
  public List<PciDevice> plan(BindRequest request) {
    return plan(request, TopologyScanner.scan(sysfs));
  }

  private List<PciDevice> plan(BindRequest request, Topology topology) {
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
      if (device.isBridge()) {
        throw new GroupRefusedException("cannot bind " + address + ": it is a bridge ("
            + device.pciClass() + "); only endpoints can be passed through", List.of());
      }
      groupNumbers.add(device.iommuGroup().getAsInt());
    }
    TreeSet<String> requestedSlots = new TreeSet<>();
    request.devices().forEach(a -> requestedSlots.add(slotOf(a)));
    List<PciDevice> endpoints = new ArrayList<>();
    for (int number : groupNumbers) {
      IommuGroup group = topology.iommuGroup(number).orElseThrow(() -> new GroupRefusedException(
          "IOMMU group " + number + " is named by a device but missing from"
              + " /sys/kernel/iommu_groups on " + topology.source(), List.of()));
      List<PciAddress> foreign = new ArrayList<>();
      for (PciDevice member : topology.members(group)) {
        if (member.isBridge()) {
          continue;
        }
        boolean wanted = request.devices().contains(member.address())
            || requestedSlots.contains(slotOf(member.address()))
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
            + " Allow the device explicitly if it should go to the same VM, or move the GPU to a"
            + " slot whose PCIe switch has ACS", foreign);
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
    return List.copyOf(endpoints);
  }

  /**
   * Binds the IOMMU groups of the requested devices to the requested VFIO driver.
   *
   * @throws GroupRefusedException before any change, when a group cannot be handed over whole
   * @throws BindException when a step fails; the devices moved so far are back where they were
   */
  public BindResult bind(BindRequest request) {
    Topology topology = TopologyScanner.scan(sysfs);
    List<PciDevice> endpoints = plan(request, topology);
    String driver = request.driver();
    if (!sysfs.isDirectory(HostPaths.join(DRIVERS, driver))) {
      throw new BindException(endpoints.get(0).address(), BindStep.CHECK, "cannot bind "
          + request.sortedDevices() + ": driver " + driver + " is not loaded ("
          + DRIVERS + "/" + driver + " does not exist); run 'modprobe "
          + driver.replace('-', '_') + "' and add it to /etc/modules-load.d/vfio.conf", null);
    }
    Deque<DeviceBinding> moved = new ArrayDeque<>();
    List<DeviceBinding> all = new ArrayList<>();
    for (PciDevice device : endpoints) {
      int group = device.iommuGroup().getAsInt();
      Optional<String> original = device.driver();
      if (original.equals(Optional.of(driver))) {
        LOG.info("{} is already on {}", device.address(), driver);
        all.add(new DeviceBinding(device.address(), group, original, driver, false));
        continue;
      }
      DeviceBinding binding = new DeviceBinding(device.address(), group, original, driver, true);
      try {
        bindOne(device, driver, request.resetBeforeBind());
      } catch (BindException e) {
        rollBack(binding, moved, e);
        throw e;
      }
      moved.push(binding);
      all.add(binding);
    }
    return new BindResult(all, deviceNodes(topology, all));
  }

  private void bindOne(PciDevice device, String driver, boolean reset) {
    PciAddress a = device.address();
    String bdf = a.toString();
    LOG.info("binding {} ({}) from {} to {}", a, device.id(), device.driver().orElse("no driver"),
        driver);
    if (reset && device.resettable()) {
      step(a, BindStep.RESET, a.sysfsPath("reset"), "1");
    }
    step(a, BindStep.SET_OVERRIDE, a.sysfsPath("driver_override"), driver);
    if (currentDriver(a).isPresent()) {
      step(a, BindStep.UNBIND, a.sysfsPath("driver/unbind"), bdf);
    }
    step(a, BindStep.PROBE, DRIVERS_PROBE, bdf);
    Optional<String> now = currentDriver(a);
    if (!now.equals(Optional.of(driver))) {
      throw new BindException(a, BindStep.VERIFY, "binding " + a + " to " + driver
          + " failed at " + BindStep.VERIFY + ": after drivers_probe it is bound to "
          + now.orElse("nothing") + "; check dmesg for " + driver + " probe errors", null);
    }
    step(a, BindStep.CLEAR_OVERRIDE, a.sysfsPath("driver_override"), "\n");
  }

  private void rollBack(DeviceBinding failed, Deque<DeviceBinding> moved, BindException cause) {
    // The failed device may be half-way: override set, unbound. Put it back first.
    try {
      restoreOne(failed, true);
    } catch (GpuvirtException e) {
      cause.addSuppressed(e);
    }
    while (!moved.isEmpty()) {
      DeviceBinding b = moved.pop();
      try {
        restoreOne(b, false);
      } catch (GpuvirtException e) {
        cause.addSuppressed(e);
        LOG.error("rollback of {} failed: {}", b.address(), e.getMessage());
      }
    }
  }

  /**
   * Puts devices gpuvirt bound back on their original drivers, in reverse order. Devices gpuvirt did
   * not bind, or that are no longer on the driver it put them on, are left alone and reported.
   * Every device is attempted; if any fails, a {@link BindException} is thrown afterwards for the
   * first failure, with the others suppressed.
   */
  public RestoreResult restore(List<DeviceBinding> bindings) {
    List<PciAddress> restored = new ArrayList<>();
    Map<PciAddress, String> untouched = new LinkedHashMap<>();
    BindException first = null;
    List<DeviceBinding> reversed = new ArrayList<>(bindings);
    java.util.Collections.reverse(reversed);
    for (DeviceBinding b : reversed) {
      if (!b.boundByGpuvirt()) {
        untouched.put(b.address(), "was already on " + b.driver() + " before gpuvirt bound it");
        continue;
      }
      if (!sysfs.exists(b.address().sysfsPath())) {
        untouched.put(b.address(), "no longer present on the host");
        continue;
      }
      Optional<String> now = currentDriver(b.address());
      if (!now.equals(Optional.of(b.driver()))) {
        untouched.put(b.address(), "is on " + now.orElse("no driver") + ", not " + b.driver()
            + "; someone else changed it, so gpuvirt leaves it alone");
        continue;
      }
      try {
        restoreOne(b, false);
        restored.add(b.address());
      } catch (BindException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
    return new RestoreResult(restored, untouched);
  }

  /**
   * Puts back devices whose binding was interrupted (a crash between steps): a device gpuvirt was
   * moving that is now on the VFIO driver or on no driver goes back to its original driver, and a
   * {@code driver_override} left set to the VFIO driver (or to the original driver, by an
   * interrupted restore) is cleared. A device on any other driver is left alone and reported.
   * Used by recovery; {@link #restore} is the normal path.
   */
  public RestoreResult recover(List<DeviceBinding> bindings) {
    List<PciAddress> restored = new ArrayList<>();
    Map<PciAddress, String> untouched = new LinkedHashMap<>();
    BindException first = null;
    List<DeviceBinding> reversed = new ArrayList<>(bindings);
    java.util.Collections.reverse(reversed);
    for (DeviceBinding b : reversed) {
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
      // a crash before the final clear leaves either one behind.
      Optional<String> override = driverOverride(b.address());
      boolean overrideLeft = override.equals(Optional.of(b.driver()))
          || override.isPresent() && override.equals(b.originalDriver());
      boolean moved = now.isEmpty() || now.equals(Optional.of(b.driver()));
      if (now.equals(b.originalDriver()) && !overrideLeft) {
        untouched.put(b.address(), "already on " + now.orElse("no driver") + " as before");
        continue;
      }
      if (!now.equals(b.originalDriver()) && !moved) {
        untouched.put(b.address(), "is on " + now.get() + ", neither " + b.driver() + " nor its"
            + " original driver; someone else changed it, so gpuvirt leaves it alone");
        continue;
      }
      try {
        restoreOne(b, true);
        restored.add(b.address());
      } catch (BindException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
    return new RestoreResult(restored, untouched);
  }

  private Optional<String> driverOverride(PciAddress a) {
    String path = a.sysfsPath("driver_override");
    if (!sysfs.exists(path)) {
      return Optional.empty();
    }
    String value = sysfs.read(path).strip();
    return value.isEmpty() || value.equals("(null)") ? Optional.empty() : Optional.of(value);
  }

  private void restoreOne(DeviceBinding b, boolean partial) {
    PciAddress a = b.address();
    String bdf = a.toString();
    Optional<String> now = currentDriver(a);
    if (partial && now.equals(b.originalDriver())) {
      step(a, BindStep.CLEAR_OVERRIDE, a.sysfsPath("driver_override"), "\n");
      return;
    }
    LOG.info("restoring {} from {} to {}", a, now.orElse("no driver"),
        b.originalDriver().orElse("no driver"));
    if (b.originalDriver().isPresent()) {
      step(a, BindStep.SET_OVERRIDE, a.sysfsPath("driver_override"), b.originalDriver().get());
    }
    if (now.isPresent()) {
      step(a, BindStep.UNBIND, a.sysfsPath("driver/unbind"), bdf);
    }
    if (b.originalDriver().isPresent()) {
      step(a, BindStep.PROBE, DRIVERS_PROBE, bdf);
      Optional<String> after = currentDriver(a);
      if (!after.equals(b.originalDriver())) {
        throw new BindException(a, BindStep.VERIFY, "restoring " + a + " to "
            + b.originalDriver().get() + " failed at " + BindStep.VERIFY + ": it is bound to "
            + after.orElse("nothing") + "; check that " + b.originalDriver().get()
            + " is loaded and dmesg for probe errors", null);
      }
    }
    step(a, BindStep.CLEAR_OVERRIDE, a.sysfsPath("driver_override"), "\n");
  }

  private void step(PciAddress device, BindStep step, String path, String value) {
    try {
      sysfs.write(path, value);
    } catch (GpuvirtException e) {
      throw new BindException(device, step, "device " + device + " failed at " + step
          + " (writing '" + value.strip() + "' to " + path + "): " + e.getMessage(), e);
    }
  }

  private Optional<String> currentDriver(PciAddress a) {
    return sysfs.readLink(a.sysfsPath("driver")).map(VfioBinder::basename);
  }

  private static String basename(String link) {
    String trimmed = link.endsWith("/") ? link.substring(0, link.length() - 1) : link;
    return trimmed.substring(trimmed.lastIndexOf('/') + 1);
  }

  private static String slotOf(PciAddress a) {
    return String.format("%04x:%02x:%02x", a.domain(), a.bus(), a.device());
  }

  private List<VfioGroupNode> deviceNodes(Topology topology, List<DeviceBinding> bindings) {
    TreeMap<Integer, List<String>> byGroup = new TreeMap<>();
    for (DeviceBinding b : bindings) {
      List<String> cdevs = byGroup.computeIfAbsent(b.iommuGroup(), g -> new ArrayList<>());
      String vfioDev = b.address().sysfsPath("vfio-dev");
      if (sysfs.isDirectory(vfioDev)) {
        for (String name : sysfs.list(vfioDev)) {
          if (name.matches("vfio[0-9]+")) {
            cdevs.add("/dev/vfio/devices/" + name);
          }
        }
      }
    }
    List<VfioGroupNode> nodes = new ArrayList<>();
    byGroup.forEach((group, cdevs) -> nodes.add(new VfioGroupNode(group,
        topology.iommuGroup(group).map(IommuGroup::vfioDevicePath).orElse("/dev/vfio/" + group),
        cdevs)));
    return nodes;
  }
}
