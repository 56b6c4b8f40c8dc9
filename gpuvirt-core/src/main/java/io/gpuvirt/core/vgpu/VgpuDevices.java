package io.gpuvirt.core.vgpu;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.doctor.Finding;
import io.gpuvirt.core.doctor.Fix;
import io.gpuvirt.core.doctor.Severity;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.vfio.VfioDrivers;
import java.nio.file.FileSystemException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * The vendor-specific vGPU path on one host, through the {@link Sysfs} and {@link CommandRunner}
 * seams only (reference VGPU_MIG.md §1, §2.2): SR-IOV enablement with NVIDIA's
 * {@code sriov-manage}, reading a VF's {@code creatable_vgpu_types}, and setting or clearing its
 * {@code current_vgpu_type}.
 *
 * <pre>{@code
 * VgpuDevices vgpu = VgpuDevices.on(Sysfs.host(), CommandRunner.system());
 * List<PciAddress> vfs = vgpu.enable(PciAddress.parse("0000:3d:00.0"));
 * vgpu.activate(vfs.get(0), VgpuTypeCatalogue.l40s().require("L40S-2Q"));
 * }</pre>
 *
 * <p>These are the host steps only; who owns which VF is the lease ledger's business. Every method
 * checks before it writes: a refused request changes nothing on the host.
 */
public final class VgpuDevices {
  /** NVIDIA's script that enables a GPU's VFs; it must run again after every reboot. */
  public static final String SRIOV_MANAGE = "/usr/lib/nvidia/sriov-manage";
  /** NVIDIA's management tool, for the vGPU mode of a GPU (found on the PATH). */
  public static final String NVIDIA_SMI = "nvidia-smi";

  /**
   * A systemd unit that enables every GPU's VFs at boot (VFs do not survive a reboot), for
   * {@code /etc/systemd/system/nvidia-sriov.service}, then {@code systemctl enable nvidia-sriov}.
   */
  public static final String BOOT_UNIT = String.join("\n",
      "[Unit]",
      "Description=Enable NVIDIA SR-IOV virtual functions for vGPU",
      "After=nvidia-vgpud.service nvidia-vgpu-mgr.service",
      "Before=libvirtd.service",
      "",
      "[Service]",
      "Type=oneshot",
      "ExecStart=" + SRIOV_MANAGE + " -e ALL",
      "RemainAfterExit=yes",
      "",
      "[Install]",
      "WantedBy=multi-user.target",
      "");

  static final Duration ENABLE_TIMEOUT = Duration.ofSeconds(120);
  static final int DEFAULT_ATTEMPTS = 10;
  static final Duration DEFAULT_PAUSE = Duration.ofSeconds(1);
  private static final String DEVICES = "/sys/bus/pci/devices/";
  private static final String MDEV_DEVICES = "/sys/bus/mdev/devices/";
  private static final int NVIDIA = 0x10de;

  private final Sysfs sysfs;
  private final CommandRunner commands;
  private final int attempts;
  private final Duration pause;

  private VgpuDevices(Sysfs sysfs, CommandRunner commands, int attempts, Duration pause) {
    this.sysfs = sysfs;
    this.commands = commands;
    this.attempts = attempts;
    this.pause = pause;
  }

  /**
   * The vGPU path of the host behind these seams; deactivation retries 10 times, 1 s apart, as
   * Proxmox does.
   */
  public static VgpuDevices on(Sysfs sysfs, CommandRunner commands) {
    return new VgpuDevices(sysfs, commands, DEFAULT_ATTEMPTS, DEFAULT_PAUSE);
  }

  /**
   * A copy that tries a deactivation {@code attempts} times, {@code pause} apart.
   *
   * @throws InvalidValueException if attempts is below 1 or the pause negative
   */
  public VgpuDevices withRetry(int newAttempts, Duration newPause) {
    if (newAttempts < 1 || newPause.isNegative()) {
      throw new InvalidValueException("vGPU deactivation retry: attempts " + newAttempts
          + " must be at least 1 and pause " + newPause + " not negative");
    }
    return new VgpuDevices(sysfs, commands, newAttempts, newPause);
  }

  // ---- capability ---------------------------------------------------------------------------

  /** Every NVIDIA physical GPU of the host that offers vGPU (SR-IOV or legacy mdev), by address. */
  public List<VgpuCapability> capabilities() {
    List<VgpuCapability> out = new ArrayList<>();
    for (String name : sysfs.list("/sys/bus/pci/devices")) {
      if (!PciAddress.isValid(name)) {
        continue;
      }
      PciAddress a = PciAddress.parse(name);
      if (isNvidiaGpu(a) && sysfs.readLink(dir(a) + "/physfn").isEmpty()
          && (sysfs.exists(dir(a) + "/sriov_totalvfs") || sysfs.exists(mdevParent(a)))) {
        out.add(read(a));
      }
    }
    return List.copyOf(out);
  }

  /**
   * The vGPU capability of one physical GPU.
   *
   * @throws VgpuException if it is not an NVIDIA GPU with SR-IOV or mdev support
   */
  public VgpuCapability capability(PciAddress pf) {
    if (!sysfs.exists(dir(pf))) {
      throw new VgpuException("vGPU: there is no PCI device " + pf + " on this host; list GPUs"
          + " with 'gpuvirt topology'");
    }
    if (!isNvidiaGpu(pf) || sysfs.readLink(dir(pf) + "/physfn").isPresent()
        || !sysfs.exists(dir(pf) + "/sriov_totalvfs") && !sysfs.exists(mdevParent(pf))) {
      throw new VgpuException("vGPU: " + pf + " is not an NVIDIA physical GPU with SR-IOV or "
          + "mdev vGPU support; choose a GPU that 'gpuvirt vgpu types' lists");
    }
    return read(pf);
  }

  private VgpuCapability read(PciAddress pf) {
    VgpuInterface iface = sysfs.exists(mdevParent(pf)) ? VgpuInterface.LEGACY_MDEV
        : VgpuInterface.VENDOR_SPECIFIC;
    int total = sysfs.exists(dir(pf) + "/sriov_totalvfs")
        ? parseCount(dir(pf) + "/sriov_totalvfs") : 0;
    PciId id = new PciId((int) parseHex(dir(pf) + "/vendor"), (int) parseHex(dir(pf) + "/device"));
    int numa = -1;
    if (sysfs.exists(dir(pf) + "/numa_node")) {
      String text = sysfs.read(dir(pf) + "/numa_node").strip();
      if (!text.matches("-?[0-9]{1,4}")) {
        throw new InvalidValueException(dir(pf) + "/numa_node: '" + text + "' is not a node");
      }
      numa = Integer.parseInt(text);
    }
    return new VgpuCapability(pf, id, numa, iface, total, virtualFunctions(pf));
  }

  /** The VFs a PF has now, in {@code virtfnN} order. */
  public List<PciAddress> virtualFunctions(PciAddress pf) {
    TreeMap<Integer, PciAddress> byIndex = new TreeMap<>();
    for (String name : sysfs.list(dir(pf))) {
      if (name.matches("virtfn[0-9]{1,3}")) {
        String target = sysfs.readLink(dir(pf) + "/" + name).orElseThrow();
        byIndex.put(Integer.parseInt(name.substring(6)),
            PciAddress.parse(target.substring(target.lastIndexOf('/') + 1)));
      }
    }
    return List.copyOf(byIndex.values());
  }

  // ---- SR-IOV enablement --------------------------------------------------------------------

  /**
   * Enables the VFs of a physical GPU with {@code sriov-manage -e <PF>}, unless they are enabled
   * already, and checks that every VF has its {@code nvidia/} directory.
   *
   * @return the VFs, in {@code virtfnN} order
   * @throws VgpuException if the PF is passed through whole (on a VFIO driver), is not on the
   *     nvidia driver, sriov-manage fails, or a VF lacks {@code nvidia/}
   */
  public List<PciAddress> enable(PciAddress pf) {
    VgpuCapability cap = capability(pf);
    if (cap.vgpuInterface() != VgpuInterface.VENDOR_SPECIFIC || cap.totalVfs() == 0) {
      throw new VgpuException("vGPU: " + pf + " uses legacy mdev, not SR-IOV VFs; create "
          + "mediated devices instead of enabling VFs");
    }
    Optional<String> driver = driver(pf);
    if (driver.isPresent() && VfioDrivers.isVfioDriver(driver.get())) {
      throw new VgpuException("vGPU: not enabling VFs on " + pf + ": it is on " + driver.get()
          + ", passed through whole; tear down the lease that holds it first");
    }
    if (!driver.equals(Optional.of("nvidia"))) {
      throw new VgpuException("vGPU: not enabling VFs on " + pf + ": it is on "
          + driver.orElse("no driver") + ", and sriov-manage needs the NVIDIA vGPU host driver; "
          + "install it and bind " + pf + " to nvidia");
    }
    if (cap.vfsEnabled()) {
      return verified(pf, cap.virtualFunctions());
    }
    Command command = Command.of(SRIOV_MANAGE, "-e", pf.toString()).withTimeout(ENABLE_TIMEOUT);
    CommandResult result = commands.run(command);
    if (!result.succeeded()) {
      throw failed(command, result, "; check the NVIDIA vGPU host driver (journalctl -u "
          + "nvidia-vgpu-mgr)");
    }
    List<PciAddress> vfs = virtualFunctions(pf);
    if (vfs.isEmpty()) {
      throw new VgpuException("vGPU: '" + String.join(" ", command.argv()) + "' succeeded but "
          + pf + " has no VFs; is SR-IOV enabled in the BIOS for this slot?");
    }
    return verified(pf, vfs);
  }

  /**
   * Disables the VFs of a physical GPU with {@code sriov-manage -d <PF>}. The caller checks first
   * that no lease holds a vGPU on it (the kernel model refuses while a VF carries a type, as the
   * driver does).
   *
   * @throws VgpuException if sriov-manage fails, with its output
   */
  public void disable(PciAddress pf) {
    Command command = Command.of(SRIOV_MANAGE, "-d", pf.toString()).withTimeout(ENABLE_TIMEOUT);
    CommandResult result = commands.run(command);
    if (!result.succeeded()) {
      throw failed(command, result, "");
    }
  }

  private List<PciAddress> verified(PciAddress pf, List<PciAddress> vfs) {
    for (PciAddress vf : vfs) {
      if (!sysfs.isDirectory(dir(vf) + "/nvidia")) {
        throw new VgpuException("vGPU: VF " + vf + " of " + pf + " has no nvidia/ directory, so "
            + "the vendor-specific vGPU interface is missing; install NVIDIA vGPU host driver 17 "
            + "or later on kernel 6.8 or later");
      }
    }
    return vfs;
  }

  /**
   * Refuses to hand out a physical GPU whole while its VFs are enabled: a passthrough of the PF
   * would take the VFs' vGPUs with it.
   *
   * @throws VgpuException naming the PF and the VF count
   */
  public void requirePassthroughAllowed(PciAddress pf) {
    if (sysfs.exists(dir(pf) + "/sriov_numvfs") && !virtualFunctions(pf).isEmpty()) {
      throw new VgpuException("passthrough of " + pf + " refused: " + virtualFunctions(pf).size()
          + " SR-IOV VFs are enabled for vGPU; disable them ('" + SRIOV_MANAGE + " -d " + pf
          + "') after every vGPU on it is torn down");
    }
  }

  /** Where {@link #BOOT_UNIT} goes. */
  public static final String BOOT_UNIT_FILE = "/etc/systemd/system/nvidia-sriov.service";

  /**
   * Readiness of the vendor-specific vGPU path, one finding per GPU (check {@code vgpu.vfs}):
   * OK when its VFs are enabled and each has {@code nvidia/}; a WARNING when they are not enabled
   * (they never survive a reboot), with the systemd unit that enables them at boot; an ERROR when a
   * VF lacks {@code nvidia/}. Legacy-mdev GPUs need no VFs and are reported as INFO.
   */
  public List<Finding> readiness() {
    List<Finding> out = new ArrayList<>();
    Fix unit = new Fix("enable every GPU's VFs at each boot with a systemd unit",
        Optional.of(BOOT_UNIT_FILE), BOOT_UNIT,
        List.of("systemctl daemon-reload", "systemctl enable --now nvidia-sriov.service"));
    for (VgpuCapability gpu : capabilities()) {
      String where = gpu.pf() + " [" + gpu.id() + "]";
      List<String> evidence = List.of(dir(gpu.pf()) + "/sriov_numvfs: "
          + gpu.virtualFunctions().size() + " of " + gpu.totalVfs() + " VFs");
      if (gpu.vgpuInterface() == VgpuInterface.LEGACY_MDEV) {
        out.add(new Finding("vgpu.vfs", Severity.INFO, where + " offers vGPU as legacy mdev "
            + "(" + mdevParent(gpu.pf()) + ")", List.of(), Optional.empty()));
      } else if (!gpu.vfsEnabled()) {
        out.add(new Finding("vgpu.vfs", Severity.WARNING, where + " has no SR-IOV VFs enabled: "
            + "vGPUs need them, and they must be enabled again after every reboot ("
            + SRIOV_MANAGE + " -e " + gpu.pf() + ", or the unit below for all GPUs)", evidence,
            Optional.of(unit)));
      } else {
        List<PciAddress> missing = gpu.virtualFunctions().stream()
            .filter(vf -> !sysfs.isDirectory(dir(vf) + "/nvidia")).toList();
        out.add(missing.isEmpty()
            ? new Finding("vgpu.vfs", Severity.OK, where + " has " + gpu.virtualFunctions().size()
                + " VFs with the vendor-specific vGPU interface; they do not survive a reboot, so "
                + "keep the unit in " + BOOT_UNIT_FILE, evidence, Optional.of(unit))
            : new Finding("vgpu.vfs", Severity.ERROR, where + ": VFs " + missing + " have no "
                + "nvidia/ directory; install NVIDIA vGPU host driver 17+ on kernel 6.8+",
                evidence, Optional.empty()));
      }
    }
    return List.copyOf(out);
  }

  // ---- types on a VF ------------------------------------------------------------------------

  /**
   * The types that can be created on this VF now, parsed strictly; empty when the GPU is full.
   *
   * @throws VgpuException if the VF has no {@code nvidia/} directory
   * @throws InvalidValueException if the file is malformed
   */
  public List<CreatableVgpuTypes.Entry> creatable(PciAddress vf) {
    String path = nvidiaDir(vf) + "/creatable_vgpu_types";
    return CreatableVgpuTypes.parse(sysfs.read(path), path);
  }

  /** The type id the VF carries now, 0 for none. */
  public int currentType(PciAddress vf) {
    String path = nvidiaDir(vf) + "/current_vgpu_type";
    String text = sysfs.read(path).strip();
    if (text.isEmpty()) {
      return 0;
    }
    if (!text.matches("[0-9]{1,9}")) {
      throw new InvalidValueException(path + ": '" + text + "' is not a vGPU type id");
    }
    return Integer.parseInt(text);
  }

  /**
   * Gives the VF a vGPU type: clears another type first (writes 0), checks the type is creatable
   * on this VF, writes its id and reads it back. A VF that carries the type already is left alone.
   *
   * @throws VgpuFullException if the type cannot be created now (the GPU is full, or carries
   *     another type)
   * @throws VgpuException if the VF lists the id under another name, or the write fails
   */
  public void activate(PciAddress vf, VgpuType type) {
    int current = currentType(vf);
    if (current == type.id()) {
      return;
    }
    List<CreatableVgpuTypes.Entry> creatable = creatable(vf);
    if (current != 0) {
      deactivate(vf);
      creatable = creatable(vf);
    }
    Optional<CreatableVgpuTypes.Entry> entry = creatable.stream()
        .filter(e -> e.id() == type.id()).findFirst();
    PciAddress pf = physicalFunction(vf);
    if (entry.isEmpty()) {
      throw new VgpuFullException(creatable.isEmpty()
          ? "vGPU: GPU " + pf + " is full: no vGPU type can be created on VF " + vf
              + " (creatable_vgpu_types is empty); choose another GPU or release a vGPU on it"
          : "vGPU: type " + type.id() + " (" + type.name() + ") cannot be created on VF " + vf
              + " of GPU " + pf + " now; creatable: " + creatable.stream()
              .map(e -> e.id() + " (" + e.name() + ")").toList()
              + " (a GPU in homogeneous mode holds one type at a time); choose another GPU");
    }
    if (!entry.get().name().equals(type.name())) {
      throw new VgpuException("vGPU: VF " + vf + " lists type " + type.id() + " as '"
          + entry.get().name() + "' but the catalogue says '" + type.name() + "'; use the "
          + "catalogue of this card and driver");
    }
    String path = nvidiaDir(vf) + "/current_vgpu_type";
    try {
      sysfs.write(path, Integer.toString(type.id()));
    } catch (HostAccessException e) {
      throw new VgpuException("vGPU: activating type " + type.id() + " (" + type.name()
          + ") on VF " + vf + ": writing " + path + " failed (" + reason(e) + "); check "
          + "'journalctl -u nvidia-vgpu-mgr'", e);
    }
    int now = currentType(vf);
    if (now != type.id()) {
      throw new VgpuException("vGPU: VF " + vf + " reports type " + now + " after type "
          + type.id() + " was written; check 'journalctl -u nvidia-vgpu-mgr'");
    }
  }

  /**
   * Clears the VF's type (writes 0), retrying while the driver is busy (a VM that just exited),
   * and reads it back. A VF without a type is left alone.
   *
   * @throws VgpuException if the VF still carries a type after the last attempt
   */
  public void deactivate(PciAddress vf) {
    String path = nvidiaDir(vf) + "/current_vgpu_type";
    writeUntil(path, "0", () -> currentType(vf) == 0, last -> new VgpuException("vGPU: VF " + vf
        + " still carries type " + currentType(vf) + " after " + attempts
        + " attempts to write 0 to " + path + (last == null ? "" : " (" + reason(last) + ")")
        + "; stop the VM that uses it and run teardown again", last));
  }

  /**
   * Writes {@code value} to {@code path} until {@code done} holds (checked before each write and
   * after it), {@link #attempts} times, {@link #pause} apart: the bounded retry of a clean-up the
   * driver refuses while a VM that just exited still holds the device.
   *
   * @throws VgpuException {@code failure} of the last write error (null if the writes succeeded
   *     but {@code done} never held)
   */
  private void writeUntil(String path, String value, BooleanSupplier done,
      Function<HostAccessException, VgpuException> failure) {
    HostAccessException last = null;
    for (int attempt = 1; attempt <= attempts; attempt++) {
      if (done.getAsBoolean()) {
        return;
      }
      try {
        sysfs.write(path, value);
        if (done.getAsBoolean()) {
          return;
        }
      } catch (HostAccessException e) {
        last = e;
      }
      if (attempt < attempts) {
        sleep();
      }
    }
    throw failure.apply(last);
  }

  // ---- NVSwitch systems ----------------------------------------------------------------------

  /** Where NVIDIA Fabric Manager keeps its configuration on an NVSwitch system. */
  static final String FABRIC_MANAGER_CFG = "/usr/share/nvidia/nvswitch/fabricmanager.cfg";

  /**
   * True on an NVSwitch system (HGX): the host has an NVIDIA NVSwitch PCI function (class 0x0680,
   * A100/H100 boards) or a Fabric Manager configuration (B200, whose NVSwitches are not PCI
   * functions). On such systems only time-sliced vGPUs are supported (reference VGPU_MIG.md §2.2,
   * NVIDIA AI Enterprise "NVIDIA NVSwitch").
   */
  public boolean nvswitchSystem() {
    if (sysfs.exists(FABRIC_MANAGER_CFG)) {
      return true;
    }
    for (String name : sysfs.list("/sys/bus/pci/devices")) {
      if (PciAddress.isValid(name)) {
        String dir = DEVICES + name;
        if (parseHex(dir + "/vendor") == NVIDIA && (parseHex(dir + "/class") >> 8) == 0x0680) {
          return true;
        }
      }
    }
    return false;
  }

  // ---- heterogeneous mode -------------------------------------------------------------------

  /**
   * The vGPU mode of a GPU, read from {@code nvidia-smi -q -i <PF>}'s {@code vGPU Heterogeneous
   * Mode} line; a driver that prints no such line has only homogeneous mode.
   *
   * @throws VgpuException if nvidia-smi fails
   * @throws InvalidValueException if the line's value is neither Enabled nor Disabled
   */
  public VgpuMode mode(PciAddress pf) {
    Command command = Command.of(NVIDIA_SMI, "-q", "-i", pf.toString());
    CommandResult result = commands.run(command);
    if (!result.succeeded()) {
      throw failed(command, result, "");
    }
    for (String line : result.stdout().split("\n")) {
      String t = line.strip();
      int colon = t.indexOf(':');
      if (colon > 0 && t.substring(0, colon).strip().equals("vGPU Heterogeneous Mode")) {
        String value = t.substring(colon + 1).strip();
        switch (value) {
          case "Enabled":
            return VgpuMode.HETEROGENEOUS;
          case "Disabled":
            return VgpuMode.HOMOGENEOUS;
          default:
            throw new InvalidValueException("'" + String.join(" ", command.argv()) + "': vGPU "
                + "Heterogeneous Mode is '" + value + "', expected Enabled or Disabled");
        }
      }
    }
    return VgpuMode.HOMOGENEOUS;
  }

  /**
   * Puts a GPU in heterogeneous mode ({@code nvidia-smi vgpu -shm 1 -i <PF>}), so it can hold
   * vGPUs of different framebuffer sizes: after its VFs are enabled ({@code sriov-manage -e}
   * resets the mode) and before its first vGPU. A GPU in the mode already is left alone.
   *
   * @throws VgpuException if the VFs are not enabled, a VF carries a type (named), the card does
   *     not support the mode, or nvidia-smi fails
   */
  public void setHeterogeneous(PciAddress pf) {
    VgpuCapability cap = capability(pf);
    if (cap.vgpuInterface() != VgpuInterface.VENDOR_SPECIFIC || !cap.vfsEnabled()) {
      throw new VgpuException("vGPU: heterogeneous mode on " + pf + " needs its SR-IOV VFs "
          + "enabled first ('gpuvirt vgpu enable " + pf + "'; enabling resets the mode)");
    }
    List<String> placed = new ArrayList<>();
    for (PciAddress vf : cap.virtualFunctions()) {
      int current = currentType(vf);
      if (current != 0) {
        placed.add("type " + current + " on VF " + vf);
      }
    }
    if (!placed.isEmpty()) {
      throw new VgpuException("vGPU: not setting heterogeneous mode on " + pf + ": it holds "
          + placed + "; the mode must be set before the first vGPU, so tear those down first");
    }
    if (mode(pf) == VgpuMode.HETEROGENEOUS) {
      return;
    }
    Command command = Command.of(NVIDIA_SMI, "vgpu", "-shm", "1", "-i", pf.toString());
    CommandResult result = commands.run(command);
    String output = (result.stderr() + result.stdout()).strip();
    if (result.exitCode() == 3) {
      throw new VgpuException("vGPU: GPU " + pf + " does not support heterogeneous mode ('"
          + String.join(" ", command.argv()) + "': " + output + "); it holds one type at a time");
    }
    if (result.exitCode() == 19) {
      throw new VgpuException("vGPU: GPU " + pf + " is in use by another client ('"
          + String.join(" ", command.argv()) + "': " + output + "); stop what uses it and retry");
    }
    if (!result.succeeded()) {
      throw failed(command, result, "");
    }
    if (mode(pf) != VgpuMode.HETEROGENEOUS) {
      throw new VgpuException("vGPU: '" + String.join(" ", command.argv()) + "' succeeded but "
          + "nvidia-smi -q -i " + pf + " does not report the mode Enabled");
    }
  }

  // ---- legacy mdev --------------------------------------------------------------------------

  /**
   * The mdev types of a legacy-mdev GPU, parsed strictly, in type-id order.
   *
   * @throws VgpuException if the GPU has no {@code /sys/class/mdev_bus/<PF>} entry
   * @throws InvalidValueException if a type directory or file is malformed
   */
  public List<MdevType> mdevTypes(PciAddress pf) {
    String types = mdevParentDir(pf) + "/mdev_supported_types";
    TreeMap<Integer, MdevType> byId = new TreeMap<>();
    for (String name : sysfs.list(types)) {
      String dir = types + "/" + name;
      int id = mdevTypeId(dir, name);
      String available = sysfs.read(dir + "/available_instances").strip();
      if (!available.matches("[0-9]{1,4}")) {
        throw new InvalidValueException(dir + "/available_instances: '" + available
            + "' is not a count");
      }
      String typeName = sysfs.read(dir + "/name").strip();
      if (typeName.isEmpty() || typeName.indexOf('\n') >= 0) {
        throw new InvalidValueException(dir + "/name: '" + typeName + "' is not a type name");
      }
      byId.put(id, new MdevType(name, id, typeName, sysfs.read(dir + "/description").strip(),
          Integer.parseInt(available), sysfs.read(dir + "/device_api").strip()));
    }
    return List.copyOf(byId.values());
  }

  /** The mediated devices that exist on a legacy-mdev GPU now, each with its type id. */
  public Map<UUID, Integer> mdevs(PciAddress pf) {
    Map<UUID, Integer> out = new TreeMap<>();
    String types = mdevParentDir(pf) + "/mdev_supported_types";
    for (MdevType t : mdevTypes(pf)) {
      String devices = types + "/" + t.directory() + "/devices";
      if (!sysfs.isDirectory(devices)) {
        continue;
      }
      for (String name : sysfs.list(devices)) {
        out.put(uuid(devices + "/" + name, name), t.id());
      }
    }
    return out;
  }

  /** The type id of the mediated device {@code uuid}, empty when it does not exist. */
  public Optional<Integer> mdevType(UUID uuid) {
    String dir = MDEV_DEVICES + uuid;
    if (!sysfs.exists(dir)) {
      return Optional.empty();
    }
    String link = sysfs.readLink(dir + "/mdev_type").orElseThrow(() -> new VgpuException(
        "vGPU: mediated device " + dir + " has no mdev_type link; is it an NVIDIA vGPU?"));
    return Optional.of(mdevTypeId(dir + "/mdev_type", link.substring(link.lastIndexOf('/') + 1)));
  }

  /** The id of an NVIDIA mdev type directory named {@code nvidia-<id>}, read at {@code path}. */
  private static int mdevTypeId(String path, String name) {
    if (!name.matches("nvidia-[1-9][0-9]{0,8}")) {
      throw new InvalidValueException(path + ": '" + name + "' is not an NVIDIA vGPU type "
          + "(expected a directory named nvidia-<id>)");
    }
    return Integer.parseInt(name.substring("nvidia-".length()));
  }

  /**
   * Creates the mediated device {@code uuid} of {@code type} on a legacy-mdev GPU: checks the type
   * exists there under the catalogue's name and has an instance available, writes the UUID to the
   * type's {@code create}, and checks the device appeared. A device {@code uuid} of this type that
   * exists already is left alone (the step is idempotent).
   *
   * @throws VgpuFullException if no instance of the type can be created now
   * @throws VgpuException if the GPU lacks the type, names it otherwise, the UUID is taken by a
   *     device of another type, or the write fails
   */
  public void createMdev(PciAddress pf, VgpuType type, UUID uuid) {
    Optional<Integer> existing = mdevType(uuid);
    if (existing.isPresent()) {
      if (existing.get() == type.id()) {
        return;
      }
      throw new VgpuException("vGPU: mediated device " + uuid + " exists with type "
          + existing.get() + ", not " + type.id() + " (" + type.name() + "); remove it first");
    }
    List<MdevType> types = mdevTypes(pf);
    MdevType t = types.stream().filter(x -> x.id() == type.id()).findFirst()
        .orElseThrow(() -> new VgpuException("vGPU: GPU " + pf + " offers no mdev type "
            + type.id() + " (" + type.name() + "); it offers " + types.stream()
            .map(x -> x.id() + " (" + x.name() + ")").toList()));
    if (!t.name().equals(type.name())) {
      throw new VgpuException("vGPU: GPU " + pf + " names mdev type " + t.directory() + " '"
          + t.name() + "' but the catalogue says '" + type.name() + "'; use the catalogue of "
          + "this card and driver");
    }
    if (t.availableInstances() < 1) {
      Map<UUID, Integer> placed = mdevs(pf);
      throw new VgpuFullException("vGPU: no instance of " + t.name() + " can be created on GPU "
          + pf + " now (available_instances is 0; " + placed.size() + " mediated devices of "
          + "types " + new TreeSet<>(placed.values()) + " exist); choose another GPU "
          + "or release a vGPU on it");
    }
    String create = mdevParentDir(pf) + "/mdev_supported_types/" + t.directory() + "/create";
    try {
      sysfs.write(create, uuid.toString());
    } catch (HostAccessException e) {
      throw new VgpuException("vGPU: creating mediated device " + uuid + " of " + t.name()
          + " on " + pf + ": writing " + create + " failed (" + reason(e) + "); check "
          + "'journalctl -u nvidia-vgpu-mgr'", e);
    }
    if (!mdevType(uuid).equals(Optional.of(type.id()))) {
      throw new VgpuException("vGPU: " + MDEV_DEVICES + uuid + " did not appear after the UUID "
          + "was written to " + create + "; check 'journalctl -u nvidia-vgpu-mgr'");
    }
  }

  /**
   * Removes the mediated device {@code uuid} (writes 1 to its {@code remove}), retrying while the
   * driver is busy (a VM that just exited), as Proxmox does. A device that does not exist is left
   * alone.
   *
   * @throws VgpuException if it still exists after the last attempt
   */
  public void removeMdev(UUID uuid) {
    String remove = MDEV_DEVICES + uuid + "/remove";
    writeUntil(remove, "1", () -> mdevType(uuid).isEmpty(), last -> new VgpuException("vGPU: "
        + "mediated device " + uuid + " still exists after " + attempts + " attempts to write 1 "
        + "to " + remove + (last == null ? "" : " (" + reason(last) + ")")
        + "; stop the VM that uses it and run teardown again", last));
  }

  private String mdevParentDir(PciAddress pf) {
    String parent = mdevParent(pf);
    if (!sysfs.isDirectory(parent)) {
      throw new VgpuException("vGPU: " + pf + " has no " + parent + ", so it offers no legacy "
          + "mdev vGPU; install the NVIDIA vGPU host driver, or use the vendor-specific path "
          + "(VFs) on a GPU that has it");
    }
    return parent;
  }

  private static UUID uuid(String path, String text) {
    if (!text.matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")) {
      throw new InvalidValueException(path + ": '" + text + "' is not a mediated device UUID");
    }
    return UUID.fromString(text);
  }

  // ---- helpers ------------------------------------------------------------------------------

  private String nvidiaDir(PciAddress vf) {
    String nvidia = dir(vf) + "/nvidia";
    if (!sysfs.isDirectory(nvidia)) {
      throw new VgpuException("vGPU: " + vf + " has no nvidia/ directory: it is not a VF of a "
          + "GPU with the NVIDIA vGPU host driver (17+); enable VFs with '" + SRIOV_MANAGE
          + " -e <PF>' and pass a VF address");
    }
    return nvidia;
  }

  /** The PF of a VF, from its {@code physfn} link. */
  public PciAddress physicalFunction(PciAddress vf) {
    String target = sysfs.readLink(dir(vf) + "/physfn").orElseThrow(() -> new VgpuException(
        "vGPU: " + vf + " has no physfn link, so it is not an SR-IOV VF"));
    return PciAddress.parse(target.substring(target.lastIndexOf('/') + 1));
  }

  private boolean isNvidiaGpu(PciAddress a) {
    return parseHex(dir(a) + "/vendor") == NVIDIA && (parseHex(dir(a) + "/class") >> 16) == 0x03;
  }

  private Optional<String> driver(PciAddress a) {
    return sysfs.readLink(dir(a) + "/driver").map(t -> t.substring(t.lastIndexOf('/') + 1));
  }

  private long parseHex(String path) {
    String text = sysfs.read(path).strip();
    try {
      return Long.decode(text);
    } catch (NumberFormatException e) {
      throw new InvalidValueException(path + ": '" + text + "' is not a hex number", e);
    }
  }

  private int parseCount(String path) {
    String text = sysfs.read(path).strip();
    if (!text.matches("[0-9]{1,4}")) {
      throw new InvalidValueException(path + ": '" + text + "' is not a count");
    }
    return Integer.parseInt(text);
  }

  private void sleep() {
    try {
      Thread.sleep(pause.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new VgpuException("vGPU: interrupted while waiting to retry a deactivation", e);
    }
  }

  /** A command that failed: its argv, exit value and output, then {@code fix}. */
  private static VgpuException failed(Command command, CommandResult result, String fix) {
    return new VgpuException("vGPU: '" + String.join(" ", command.argv()) + "' failed (exit "
        + result.exitCode() + "): " + (result.stderr() + result.stdout()).strip() + fix);
  }

  private static String reason(HostAccessException e) {
    return e.getCause() instanceof FileSystemException f && f.getReason() != null
        ? f.getReason() : String.valueOf(e.getMessage());
  }

  private static String dir(PciAddress a) {
    return DEVICES + a;
  }

  static String mdevParent(PciAddress pf) {
    return "/sys/class/mdev_bus/" + pf;
  }
}
