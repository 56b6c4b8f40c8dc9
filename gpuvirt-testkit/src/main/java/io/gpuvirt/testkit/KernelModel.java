package io.gpuvirt.testkit;

import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the Linux PCI core does when a sysfs attribute is written (SYSFS.md §5-6): driver binding
 * ({@code bind}, {@code unbind}, {@code drivers_probe}, {@code driver_override}, {@code new_id},
 * {@code remove_id}), {@code reset}, {@code sriov_numvfs}, {@code remove} and {@code rescan}, with
 * the kernel's errno on failure. Every change runs under the tree lock and leaves its result in
 * the tree, so other processes see it.
 */
final class KernelModel {
  /** The errnos the PCI core returns, with the text {@code strerror} gives them. */
  enum Errno {
    EBUSY("Device or resource busy"),
    ENODEV("No such device"),
    EIO("Input/output error"),
    EINVAL("Invalid argument"),
    ENOENT("No such file or directory"),
    ERANGE("Numerical result out of range"),
    EACCES("Permission denied"),
    EEXIST("File exists"),
    EISDIR("Is a directory"),
    ENOSPC("No space left on device");

    final String text;

    Errno(String text) {
      this.text = text;
    }
  }

  /** A failed write, as Java reports an errno from the file system. */
  static final class KernelError extends FileSystemException {
    private static final long serialVersionUID = 1L;
    final transient Errno errno;

    KernelError(String hostPath, Errno errno) {
      super(hostPath, null, errno.text);
      this.errno = errno;
    }
  }

  private static final Set<String> GROUP_TYPES = Set.of("DMA", "DMA-FQ", "identity", "auto");
  private static final int PAGE_SIZE = 4096;

  private final HostProfile profile;
  private final HostTree tree;
  private final Path root;
  private final AtomicLong writes = new AtomicLong();
  private final VgpuModel vgpu;
  private final MdevModel mdev;

  KernelModel(HostProfile profile, HostTree tree) {
    this.profile = profile;
    this.tree = tree;
    this.root = tree.root();
    this.vgpu = new VgpuModel(profile, tree);
    this.mdev = new MdevModel(profile, tree);
  }

  /** {@code nvidia-smi vgpu -shm 0|1} on {@code pf}, under the tree lock. */
  VgpuModel.ModeChange setVgpuHeterogeneous(PciAddress pf, boolean on) throws IOException {
    return TreeLock.with(root, () -> {
      HostState state = HostState.load(root);
      try {
        return vgpu.setHeterogeneous(pf, on, state);
      } finally {
        state.saveIfChanged(root);
      }
    });
  }

  /**
   * Brings the {@code creatable_vgpu_types} of {@code vf}'s physical function up to date, under
   * the tree lock: the driver computes the list when it is read, and MIG instances (made by the
   * simulated {@code nvidia-smi} or NVML) change it without a sysfs write.
   */
  void refreshCreatableVgpuTypes(PciAddress vf) throws IOException {
    TreeLock.with(root, () -> {
      HostState state = HostState.load(root);
      try {
        vgpu.refreshFor(vf, state);
        return null;
      } finally {
        state.saveIfChanged(root);
      }
    });
  }

  /** Whether {@code pf} is in vGPU heterogeneous mode. */
  boolean vgpuHeterogeneous(PciAddress pf) throws IOException {
    return HostState.load(root).heterogeneousVgpu.contains(pf);
  }

  long writeCount() {
    return writes.get();
  }

  /** Performs a write of {@code value} to the host path, as the kernel would. */
  void write(String hostPath, String value) throws IOException {
    writes.incrementAndGet();
    TreeLock.with(root, () -> {
      HostState state = HostState.load(root);
      try {
        dispatch(hostPath, value, state);
      } finally {
        state.saveIfChanged(root);
      }
      return null;
    });
  }

  private void dispatch(String hostPath, String value, HostState state) throws IOException {
    Path local = root.resolve(hostPath.substring(1));
    Path parent;
    try {
      parent = local.getParent().toRealPath();
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(hostPath);
    }
    Path target = parent.resolve(local.getFileName());
    if (!target.startsWith(root)) {
      throw new KernelError(hostPath, Errno.EACCES);
    }
    if (!Files.exists(target)) {
      throw new NoSuchFileException(hostPath);
    }
    if (Files.isDirectory(target)) {
      throw new KernelError(hostPath, Errno.EISDIR);
    }
    String rel = root.relativize(target).toString().replace('\\', '/');
    String canonical = "/" + rel;
    if (state.fire(Fault.Kind.WRITE_FAILS, hostPath)
        || !canonical.equals(hostPath) && state.fire(Fault.Kind.WRITE_FAILS, canonical)) {
      throw new KernelError(hostPath, Errno.EIO);
    }
    String[] seg = rel.split("/");
    String name = seg[seg.length - 1];
    String dirName = seg.length > 1 ? seg[seg.length - 2] : "";
    if (rel.equals("sys/bus/pci/drivers_probe")) {
      probe(device(hostPath, value), state);
    } else if (rel.equals("sys/bus/pci/rescan")) {
      if (parseUnsigned(hostPath, value) != 0) {
        rescan(state);
      }
    } else if (rel.equals("sys/bus/pci/drivers_autoprobe")) {
      store(target, parseBool(hostPath, value) ? "1\n" : "0\n");
    } else if (seg.length == 6 && rel.startsWith("sys/bus/pci/drivers/")) {
      driverFile(hostPath, seg[4], name, value, state);
    } else if (rel.startsWith("sys/devices/") && seg.length > 2 && dirName.equals("nvidia")
        && isCanonicalBdf(seg[seg.length - 3])) {
      vgpu.write(hostPath, PciAddress.parse(seg[seg.length - 3]), name, value, state);
    } else if (rel.startsWith("sys/devices/") && seg.length > 3 && name.equals("create")
        && seg[seg.length - 3].equals("mdev_supported_types")
        && isCanonicalBdf(seg[seg.length - 4])) {
      mdev.create(hostPath, PciAddress.parse(seg[seg.length - 4]), dirName, value);
    } else if (rel.startsWith("sys/devices/") && seg.length > 2 && name.equals("remove")
        && MdevModel.isDeviceName(dirName) && isCanonicalBdf(seg[seg.length - 3])) {
      mdev.remove(hostPath, PciAddress.parse(seg[seg.length - 3]), dirName, value);
    } else if (rel.startsWith("sys/devices/") && isCanonicalBdf(dirName)) {
      deviceFile(hostPath, target, PciAddress.parse(dirName), name, value, state);
    } else if (seg.length == 4 && rel.startsWith("sys/kernel/iommu_groups/")
        && name.equals("type")) {
      groupType(hostPath, target, Integer.parseInt(seg[3]), value);
    } else if (rel.startsWith("sys/") || rel.startsWith("proc/") || rel.startsWith("dev/")) {
      throw new KernelError(hostPath, Errno.EACCES);
    } else {
      store(target, value);
    }
  }

  // ---- drivers ------------------------------------------------------------------------------

  private void driverFile(String hostPath, String driver, String file, String value,
      HostState state) throws IOException {
    switch (file) {
      case "bind":
        bind(hostPath, driver, device(hostPath, value), state);
        break;
      case "unbind":
        unbind(hostPath, driver, device(hostPath, value), state);
        break;
      case "new_id":
        newId(hostPath, driver, value, state);
        break;
      case "remove_id":
        removeId(hostPath, driver, value, state);
        break;
      default:
        throw new KernelError(hostPath, Errno.EACCES);
    }
  }

  private void bind(String hostPath, String driver, PciAddress a, HostState state)
      throws IOException {
    if (!matches(driver, a, state)) {
      throw new KernelError(hostPath, Errno.ENODEV);
    }
    if (tree.boundDriver(a).isPresent()) {
      throw new KernelError(hostPath, Errno.EBUSY);
    }
    if (state.fire(Fault.Kind.BIND_FAILS, a)) {
      throw new KernelError(hostPath, Errno.ENODEV);
    }
    if (state.fire(Fault.Kind.PROBE_FAILS, a)) {
      throw new KernelError(hostPath, Errno.EIO);
    }
    bindDriver(a, driver);
  }

  /** Binds, and lets the vGPU host driver make the GPU an mdev parent. */
  private void bindDriver(PciAddress a, String driver) throws IOException {
    tree.bind(a, driver);
    mdev.driverBound(a, driver);
  }

  private void unbind(String hostPath, String driver, PciAddress a, HostState state)
      throws IOException {
    if (!tree.boundDriver(a).equals(Optional.of(driver))) {
      throw new KernelError(hostPath, Errno.ENODEV);
    }
    if (state.fire(Fault.Kind.UNBIND_BUSY, a)) {
      throw new KernelError(hostPath, Errno.EBUSY);
    }
    release(hostPath, a);
  }

  /** Unbinds a device; a PF driver disables SR-IOV on the way out, removing the VFs. */
  private void release(String hostPath, PciAddress a) throws IOException {
    mdev.unbinding(hostPath, a);
    if (Files.exists(tree.deviceDir(a).resolve("sriov_numvfs"))
        && !tree.virtualFunctions(a).isEmpty()) {
      tree.removeVfs(a);
    }
    tree.unbind(a);
  }

  /** {@code drivers_probe}: binds the override driver, or the default one, if loaded. */
  private void probe(PciAddress a, HostState state) throws IOException {
    if (tree.boundDriver(a).isPresent()) {
      return;
    }
    List<String> candidates = candidates(a, state);
    if (candidates.isEmpty()) {
      return;
    }
    if (state.fire(Fault.Kind.PROBE_FAILS, a)) {
      return; // the kernel logs "probe ... failed with error -5" and the write succeeds
    }
    bindDriver(a, candidates.get(0));
  }

  /** The loaded drivers that match a device, in the order the kernel would try them. */
  private List<String> candidates(PciAddress a, HostState state) throws IOException {
    Optional<String> override = tree.override(a);
    List<String> out = new ArrayList<>();
    if (override.isPresent()) {
      if (isDriverName(override.get()) && tree.driverLoaded(override.get())) {
        out.add(override.get());
      }
      return out;
    }
    Optional<String> preferred = defaultDriver(a);
    if (preferred.isPresent() && tree.driverLoaded(preferred.get())) {
      out.add(preferred.get());
    }
    PciId id = tree.id(a);
    PciId sub = subsystem(a);
    for (Map.Entry<String, List<HostState.DynamicId>> e : state.dynamicIds.entrySet()) {
      if (!out.contains(e.getKey()) && tree.driverLoaded(e.getKey())
          && e.getValue().stream().anyMatch(d -> d.matches(id, sub))) {
        out.add(e.getKey());
      }
    }
    return out;
  }

  /** Whether a driver's match function accepts the device (override, static table, dynamic id). */
  private boolean matches(String driver, PciAddress a, HostState state) throws IOException {
    Optional<String> override = tree.override(a);
    if (override.isPresent()) {
      return override.get().equals(driver);
    }
    if (defaultDriver(a).equals(Optional.of(driver))) {
      return true;
    }
    PciId id = tree.id(a);
    PciId sub = subsystem(a);
    return state.dynamicIds.getOrDefault(driver, List.of()).stream()
        .anyMatch(d -> d.matches(id, sub));
  }

  /** The driver whose static id table claims the device: the profile's, or the PF's VF driver. */
  private Optional<String> defaultDriver(PciAddress a) throws IOException {
    Optional<DeviceSpec> spec = profile.device(a);
    if (spec.isPresent()) {
      return spec.get().driver();
    }
    Path physfn = tree.deviceDir(a).resolve("physfn");
    if (Files.isSymbolicLink(physfn)) {
      PciAddress pf = PciAddress.parse(Files.readSymbolicLink(physfn).getFileName().toString());
      return profile.device(pf).flatMap(DeviceSpec::sriov).flatMap(DeviceSpec.SriovSpec::vfDriver);
    }
    return Optional.empty();
  }

  private PciId subsystem(PciAddress a) throws IOException {
    Path dir = tree.deviceDir(a);
    return new PciId(Integer.decode(HostTree.read(dir.resolve("subsystem_vendor")).strip()),
        Integer.decode(HostTree.read(dir.resolve("subsystem_device")).strip()));
  }

  private void newId(String hostPath, String driver, String value, HostState state)
      throws IOException {
    long[] f = scanHex(hostPath, value, 7);
    if (f.length < 2 || f[0] > 0xffff || f[1] > 0xffff) {
      throw new KernelError(hostPath, Errno.EINVAL);
    }
    HostState.DynamicId id = new HostState.DynamicId((int) f[0], (int) f[1],
        f.length > 2 && f[2] <= 0xffff ? (int) f[2] : -1,
        f.length > 3 && f[3] <= 0xffff ? (int) f[3] : -1);
    List<HostState.DynamicId> ids = state.dynamicIds.computeIfAbsent(driver,
        k -> new ArrayList<>());
    if (ids.contains(id)) {
      throw new KernelError(hostPath, Errno.EEXIST);
    }
    ids.add(id);
    state.changed();
    // driver_attach(): every unbound device the driver now matches is probed.
    for (PciAddress a : tree.addresses()) {
      if (tree.boundDriver(a).isEmpty() && id.matches(tree.id(a), subsystem(a))
          && tree.override(a).map(driver::equals).orElse(true)
          && !state.fire(Fault.Kind.PROBE_FAILS, a)) {
        bindDriver(a, driver);
      }
    }
  }

  private void removeId(String hostPath, String driver, String value, HostState state)
      throws IOException {
    long[] f = scanHex(hostPath, value, 6);
    if (f.length < 2) {
      throw new KernelError(hostPath, Errno.EINVAL);
    }
    List<HostState.DynamicId> ids = state.dynamicIds.getOrDefault(driver, new ArrayList<>());
    boolean removed = ids.removeIf(d -> d.vendor() == f[0] && d.device() == f[1]
        && (f.length < 3 || d.subVendor() == (f[2] > 0xffff ? -1 : f[2]))
        && (f.length < 4 || d.subDevice() == (f[3] > 0xffff ? -1 : f[3])));
    if (!removed) {
      throw new KernelError(hostPath, Errno.ENODEV);
    }
    if (ids.isEmpty()) {
      state.dynamicIds.remove(driver);
    }
    state.changed();
  }

  // ---- device attributes --------------------------------------------------------------------

  private void deviceFile(String hostPath, Path target, PciAddress a, String file, String value,
      HostState state) throws IOException {
    switch (file) {
      case "driver_override":
        driverOverride(hostPath, a, value);
        break;
      case "reset":
        if (parseUnsigned(hostPath, value) != 1) {
          throw new KernelError(hostPath, Errno.EINVAL);
        }
        if (state.fire(Fault.Kind.RESET_FAILS, a)) {
          throw new KernelError(hostPath, Errno.EIO);
        }
        state.resets.merge(a, 1, Integer::sum);
        state.changed();
        break;
      case "sriov_numvfs":
        sriovNumVfs(hostPath, a, value, state);
        break;
      case "sriov_drivers_autoprobe":
        store(target, parseBool(hostPath, value) ? "1\n" : "0\n");
        break;
      case "numa_node":
        long node = parseSigned(hostPath, value);
        if (node < -1 || node > 7) {
          throw new KernelError(hostPath, Errno.EINVAL);
        }
        store(target, node + "\n");
        break;
      case "enable":
        long enable = parseUnsigned(hostPath, value);
        if (tree.boundDriver(a).isPresent()) {
          throw new KernelError(hostPath, Errno.EBUSY);
        }
        store(target, enable != 0 ? "1\n" : "0\n");
        break;
      case "remove":
        if (parseUnsigned(hostPath, value) != 0) {
          remove(a);
        }
        break;
      case "rescan":
        if (parseUnsigned(hostPath, value) != 0) {
          rescan(state);
        }
        break;
      default:
        throw new KernelError(hostPath, Errno.EACCES);
    }
  }

  private void driverOverride(String hostPath, PciAddress a, String value) throws IOException {
    if (value.length() >= PAGE_SIZE - 1) {
      throw new KernelError(hostPath, Errno.EINVAL);
    }
    int nl = value.indexOf('\n');
    String name = nl >= 0 ? value.substring(0, nl) : value;
    tree.setOverride(a, name.isEmpty() ? Optional.empty() : Optional.of(name));
  }

  private void sriovNumVfs(String hostPath, PciAddress a, String value, HostState state)
      throws IOException {
    long requested = parseUnsigned(hostPath, value);
    DeviceSpec pf = profile.device(a).filter(d -> d.sriov().isPresent())
        .orElseThrow(() -> new KernelError(hostPath, Errno.EACCES));
    if (requested > pf.sriov().get().totalVfs()) {
      throw new KernelError(hostPath, Errno.ERANGE);
    }
    int current = tree.virtualFunctions(a).size();
    if (requested == current) {
      return;
    }
    if (tree.boundDriver(a).isEmpty()) {
      throw new KernelError(hostPath, Errno.ENOENT);
    }
    if (state.fire(Fault.Kind.SRIOV_FAILS, a)) {
      throw new KernelError(hostPath, Errno.EIO);
    }
    if (requested == 0) {
      if (vgpu.anyActive(a)) {
        throw new KernelError(hostPath, Errno.EBUSY);
      }
      tree.removeVfs(a);
      return;
    }
    if (current != 0) {
      throw new KernelError(hostPath, Errno.EBUSY);
    }
    List<DeviceSpec> vfs = tree.createVfs(pf, (int) requested);
    boolean autoprobe = HostTree.read(tree.deviceDir(a).resolve("sriov_drivers_autoprobe"))
        .strip().equals("1");
    if (autoprobe) {
      for (DeviceSpec vf : vfs) {
        probe(vf.address(), state);
      }
    }
    vgpu.vfsCreated(a, vfs, state);
  }

  /** {@code remove}: the device, what sits behind it and its VFs disappear. */
  private void remove(PciAddress a) throws IOException {
    List<PciAddress> doomed = new ArrayList<>();
    for (PciAddress p : tree.addresses()) {
      if (p.equals(a) || tree.deviceDir(p).startsWith(tree.deviceDir(a))) {
        doomed.add(p);
      }
    }
    for (PciAddress p : doomed) {
      if (profile.device(p).flatMap(DeviceSpec::sriov).isPresent()
          && !tree.virtualFunctions(p).isEmpty()) {
        tree.removeVfs(p);
      }
    }
    Map<PciAddress, Integer> depth = new HashMap<>();
    for (PciAddress p : doomed) {
      if (tree.exists(p)) {
        depth.put(p, tree.deviceDir(p).getNameCount());
      }
    }
    List<PciAddress> deepestFirst = new ArrayList<>(depth.keySet());
    deepestFirst.sort(Comparator.comparing((PciAddress p) -> depth.get(p)).reversed());
    for (PciAddress p : deepestFirst) {
      tree.removeFunction(p);
    }
  }

  /** {@code rescan}: devices of the profile that were removed come back, bound as at boot. */
  private void rescan(HostState state) throws IOException {
    TreeWriter writer = new TreeWriter(profile, tree);
    for (DeviceSpec d : TreeWriter.parentsFirst(profile.devices())) {
      if (!tree.exists(d.address()) && d.parent().map(tree::exists).orElse(true)) {
        writer.createDevice(d);
        boolean loaded = d.driver().isPresent() && tree.driverLoaded(d.driver().get());
        if (loaded && !state.fire(Fault.Kind.PROBE_FAILS, d.address())) {
          writer.bootBind(d.address(), d.driver());
        }
      }
    }
  }

  private void groupType(String hostPath, Path target, int group, String value)
      throws IOException {
    String type = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
    if (!GROUP_TYPES.contains(type)) {
      throw new KernelError(hostPath, Errno.EINVAL);
    }
    for (PciAddress m : tree.groupMembers(group)) {
      if (tree.boundDriver(m).isPresent()) {
        throw new KernelError(hostPath, Errno.EBUSY);
      }
    }
    store(target, (type.equals("auto") ? "DMA" : type) + "\n");
  }

  // ---- parsing, as the kernel's kstrto* and sysfs_streq do ----------------------------------

  /** The device a BDF written to a bus or driver file names: exactly one existing device. */
  private PciAddress device(String hostPath, String value) throws IOException {
    String name = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
    if (!isCanonicalBdf(name)) {
      throw new KernelError(hostPath, Errno.ENODEV);
    }
    PciAddress a = PciAddress.parse(name);
    if (!tree.exists(a)) {
      throw new KernelError(hostPath, Errno.ENODEV);
    }
    return a;
  }

  static boolean isCanonicalBdf(String s) {
    return PciAddress.isValid(s) && PciAddress.parse(s).toString().equals(s);
  }

  static boolean isDriverName(String s) {
    return s.matches("[A-Za-z0-9_.-]{1,64}") && !s.equals(".") && !s.equals("..");
  }

  /** kstrtoul(buf, 0): decimal, 0x hex or 0 octal, optional '+', one trailing newline. */
  static long parseUnsigned(String hostPath, String value) throws KernelError {
    String s = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
    if (s.startsWith("+")) {
      s = s.substring(1);
    }
    OptionalLong v = parseBase0(s);
    if (v.isEmpty()) {
      throw new KernelError(hostPath, Errno.EINVAL);
    }
    return v.getAsLong();
  }

  static long parseSigned(String hostPath, String value) throws KernelError {
    String s = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
    boolean negative = s.startsWith("-");
    long v = parseUnsigned(hostPath, negative ? s.substring(1) : s);
    return negative ? -v : v;
  }

  private static OptionalLong parseBase0(String s) {
    int radix = 10;
    String digits = s;
    if (s.startsWith("0x") || s.startsWith("0X")) {
      radix = 16;
      digits = s.substring(2);
    } else if (s.length() > 1 && s.startsWith("0")) {
      radix = 8;
      digits = s.substring(1);
    }
    if (digits.isEmpty() || digits.length() > 16) {
      return OptionalLong.empty();
    }
    for (char c : digits.toCharArray()) {
      if (Character.digit(c, radix) < 0) {
        return OptionalLong.empty();
      }
    }
    try {
      return OptionalLong.of(Long.parseLong(digits, radix));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  /** kstrtobool: 1/0, y/n, on/off (first characters), case-insensitive. */
  static boolean parseBool(String hostPath, String value) throws KernelError {
    String s = value.toLowerCase(java.util.Locale.ROOT);
    if (s.startsWith("1") || s.startsWith("y") || s.startsWith("on")) {
      return true;
    }
    if (s.startsWith("0") || s.startsWith("n") || s.startsWith("of")) {
      return false;
    }
    throw new KernelError(hostPath, Errno.EINVAL);
  }

  /** sscanf("%x %x ..."): hex fields (optional 0x) separated by white space. */
  static long[] scanHex(String hostPath, String value, int max) throws KernelError {
    String[] tokens = value.strip().split("\\s+");
    List<Long> out = new ArrayList<>();
    for (String t : tokens) {
      if (out.size() == max || t.isEmpty()) {
        break;
      }
      String digits = t.startsWith("0x") || t.startsWith("0X") ? t.substring(2) : t;
      if (digits.isEmpty() || digits.length() > 8 || !digits.matches("[0-9a-fA-F]+")) {
        break;
      }
      out.add(Long.parseLong(digits, 16));
    }
    if (out.size() < 2) {
      throw new KernelError(hostPath, Errno.EINVAL);
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static void store(Path target, String content) throws IOException {
    Files.write(target, content.getBytes(StandardCharsets.UTF_8), StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING);
  }
}
