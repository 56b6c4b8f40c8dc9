package io.gpuvirt.testkit;

import io.gpuvirt.core.host.CpuArchitecture;
import io.gpuvirt.core.pci.Bar;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciId;
import io.gpuvirt.core.vfio.VfioDrivers;
import io.gpuvirt.testkit.BridgeWindows.Range;
import io.gpuvirt.testkit.BridgeWindows.Windows;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * The on-disk layout of a simulated host and the primitive changes to it (create a function, bind,
 * unbind, join an IOMMU group). It knows where files go; {@link KernelModel} decides when.
 */
final class HostTree {
  static final String PROFILE_FILE = ".gpuvirt-profile.json";
  static final String STATE_FILE = ".gpuvirt-state.json";
  static final String LOCK_FILE = ".gpuvirt.lock";
  static final String FABRIC_MANAGER_CFG = "usr/share/nvidia/nvswitch/fabricmanager.cfg";

  /** Write-only attributes: reading them fails with EACCES, as in sysfs. */
  static final Set<String> WRITE_ONLY = Set.of("bind", "unbind", "new_id",
      "remove_id", "drivers_probe", "rescan", "remove", "reset");

  private final Path root;
  private final String domainType;
  private final String msiRegion;

  /**
   * A tree at {@code root} (a real path); {@code domainType} is the IOMMU groups' default domain
   * type ({@code identity} with {@code iommu=pt}, else {@code DMA}).
   */
  HostTree(Path root, String domainType) {
    this(root, domainType, CpuArchitecture.X86_64);
  }

  /**
   * A tree whose IOMMU groups reserve the MSI window of {@code architecture}: the x86 interrupt
   * range at {@code 0xfee00000}, or on arm64 the software MSI window the SMMU driver reserves at
   * {@code 0x8000000} (size 1M).
   */
  HostTree(Path root, String domainType, CpuArchitecture architecture) {
    this.root = root;
    this.domainType = domainType;
    this.msiRegion = architecture == CpuArchitecture.AARCH64
        ? "0x0000000008000000 0x00000000080fffff msi\n"
        : "0x00000000fee00000 0x00000000feefffff msi\n";
  }

  /** The tree of {@code p} at {@code root}. */
  static HostTree of(Path root, HostProfile p) {
    return new HostTree(root, domainType(p), p.architecture());
  }

  static String domainType(HostProfile p) {
    String line = " " + p.cmdline() + " ";
    return line.contains(" iommu=pt ") || line.contains(" iommu.passthrough=1 ") ? "identity"
        : "DMA";
  }

  Path root() {
    return root;
  }

  Path sysDevices() {
    return root.resolve("sys/devices");
  }

  Path busDevices() {
    return root.resolve("sys/bus/pci/devices");
  }

  Path drivers() {
    return root.resolve("sys/bus/pci/drivers");
  }

  Path groups() {
    return root.resolve("sys/kernel/iommu_groups");
  }

  Path deviceLink(PciAddress a) {
    return busDevices().resolve(a.toString());
  }

  /** The real directory of a function ({@code sys/devices/pci0000:14/.../0000:17:00.0}). */
  Path deviceDir(PciAddress a) throws IOException {
    return deviceLink(a).toRealPath();
  }

  boolean exists(PciAddress a) {
    return Files.exists(deviceLink(a));
  }

  Path driverDir(String driver) {
    return drivers().resolve(driver);
  }

  boolean driverLoaded(String driver) {
    return Files.isDirectory(driverDir(driver), LinkOption.NOFOLLOW_LINKS);
  }

  /** The driver a function is bound to, from its {@code driver} link. */
  Optional<String> boundDriver(PciAddress a) throws IOException {
    Path link = deviceDir(a).resolve("driver");
    if (!Files.isSymbolicLink(link)) {
      return Optional.empty();
    }
    return Optional.of(Files.readSymbolicLink(link).getFileName().toString());
  }

  /** The {@code driver_override} of a function; empty when unset. */
  Optional<String> override(PciAddress a) throws IOException {
    String s = read(deviceDir(a).resolve("driver_override")).strip();
    return s.isEmpty() || s.equals("(null)") ? Optional.empty() : Optional.of(s);
  }

  PciId id(PciAddress a) throws IOException {
    Path dir = deviceDir(a);
    return new PciId(Integer.decode(read(dir.resolve("vendor")).strip()),
        Integer.decode(read(dir.resolve("device")).strip()));
  }

  int pciClass(PciAddress a) throws IOException {
    return Integer.decode(read(deviceDir(a).resolve("class")).strip());
  }

  /** The IOMMU group of a function; empty with the IOMMU off. */
  OptionalInt group(PciAddress a) throws IOException {
    Path link = deviceDir(a).resolve("iommu_group");
    if (!Files.isSymbolicLink(link)) {
      return OptionalInt.empty();
    }
    return OptionalInt.of(Integer.parseInt(Files.readSymbolicLink(link).getFileName().toString()));
  }

  /** Every function of the host, sorted. */
  List<PciAddress> addresses() throws IOException {
    TreeSet<PciAddress> out = new TreeSet<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(busDevices())) {
      for (Path p : s) {
        out.add(PciAddress.parse(p.getFileName().toString()));
      }
    }
    return List.copyOf(out);
  }

  /** The members of IOMMU group {@code n}. */
  List<PciAddress> groupMembers(int n) throws IOException {
    Path dir = groups().resolve(Integer.toString(n)).resolve("devices");
    List<PciAddress> out = new ArrayList<>();
    if (Files.isDirectory(dir)) {
      try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
        for (Path p : s) {
          String name = p.getFileName().toString();
          if (PciAddress.isValid(name)) {
            out.add(PciAddress.parse(name)); // platform and mediated members are not functions
          }
        }
      }
    }
    out.sort(null);
    return out;
  }

  /** The highest IOMMU group number in use, or -1. */
  int maxGroup() throws IOException {
    int max = -1;
    if (Files.isDirectory(groups())) {
      try (DirectoryStream<Path> s = Files.newDirectoryStream(groups())) {
        for (Path p : s) {
          max = Math.max(max, Integer.parseInt(p.getFileName().toString()));
        }
      }
    }
    return max;
  }

  // ---- changes ------------------------------------------------------------------------------

  void bind(PciAddress a, String driver) throws IOException {
    Path dir = deviceDir(a);
    link(dir.resolve("driver"), driverDir(driver));
    link(driverDir(driver).resolve(a.toString()), dir);
    if (VfioDrivers.isVfioDriver(driver)) {
      OptionalInt g = group(a);
      if (g.isPresent()) {
        Path node = root.resolve("dev/vfio").resolve(Integer.toString(g.getAsInt()));
        Files.createDirectories(node.getParent());
        if (!Files.exists(node)) {
          Files.createFile(node);
        }
      }
    }
  }

  void unbind(PciAddress a) throws IOException {
    Path dir = deviceDir(a);
    Optional<String> driver = boundDriver(a);
    Files.deleteIfExists(dir.resolve("driver"));
    if (driver.isPresent()) {
      Files.deleteIfExists(driverDir(driver.get()).resolve(a.toString()));
      if (VfioDrivers.isVfioDriver(driver.get())) {
        OptionalInt g = group(a);
        if (g.isPresent() && noMemberOnVfio(g.getAsInt())) {
          Files.deleteIfExists(root.resolve("dev/vfio").resolve(Integer.toString(g.getAsInt())));
        }
      }
    }
  }

  /** Whether no member of the group is on vfio-pci or a VFIO variant driver any more. */
  private boolean noMemberOnVfio(int group) throws IOException {
    for (PciAddress m : groupMembers(group)) {
      if (boundDriver(m).filter(VfioDrivers::isVfioDriver).isPresent()) {
        return false;
      }
    }
    return true;
  }

  void setOverride(PciAddress a, Optional<String> driver) throws IOException {
    write(deviceDir(a).resolve("driver_override"), driver.orElse("(null)") + "\n");
  }

  /**
   * Writes the directory, attributes and links of one function under {@code parentDir}: the
   * {@code bus/pci/devices} link, the IOMMU group link and, if {@code driver} is given, the binding.
   */
  void createFunction(DeviceSpec d, Path parentDir, ConfigSpace.Context ctx, Windows windows)
      throws IOException {
    Path dir = parentDir.resolve(d.address().toString());
    Files.createDirectory(dir);
    write(dir.resolve("vendor"), String.format("0x%04x\n", d.id().vendor()));
    write(dir.resolve("device"), String.format("0x%04x\n", d.id().device()));
    write(dir.resolve("subsystem_vendor"), String.format("0x%04x\n", d.subsystem().vendor()));
    write(dir.resolve("subsystem_device"), String.format("0x%04x\n", d.subsystem().device()));
    write(dir.resolve("class"), String.format("0x%06x\n", d.pciClass().code()));
    write(dir.resolve("revision"), String.format("0x%02x\n", d.revision()));
    write(dir.resolve("irq"), ctx.irq() + "\n");
    write(dir.resolve("numa_node"), d.numaNode() + "\n");
    write(dir.resolve("local_cpulist"), d.numaNode() == 1 ? "56-111\n" : d.numaNode() == 0
        ? "0-55\n" : "0-111\n");
    write(dir.resolve("enable"), "1\n");
    write(dir.resolve("modalias"), modalias(d));
    write(dir.resolve("driver_override"), "(null)\n");
    write(dir.resolve("resource"), resource(d, ctx.virtualFunction(), windows));
    Files.write(dir.resolve("config"), ConfigSpace.build(d, ctx));
    if (d.resettable()) {
      write(dir.resolve("reset"), "");
      write(dir.resolve("reset_method"), d.portType().isPresent() ? "flr bus\n" : "pm bus\n");
    }
    if (!ctx.virtualFunction()) {
      write(dir.resolve("remove"), "");
      write(dir.resolve("rescan"), "");
    }
    if (d.portType().isPresent()) {
      write(dir.resolve("current_link_speed"), "32.0 GT/s PCIe\n");
      write(dir.resolve("max_link_speed"), "32.0 GT/s PCIe\n");
      write(dir.resolve("current_link_width"), "16\n");
      write(dir.resolve("max_link_width"), "16\n");
    }
    if (d.pciClass().baseAndSub() == 0x0300) {
      write(dir.resolve("boot_vga"), "1\n");
    }
    d.label().ifPresent(l -> writeUnchecked(dir.resolve("label"), l + "\n"));
    if (d.isBridge()) {
      write(dir.resolve("secondary_bus_number"), d.busRange().get().secondary() + "\n");
      write(dir.resolve("subordinate_bus_number"), d.busRange().get().subordinate() + "\n");
      Files.createDirectories(dir.resolve("pci_bus").resolve(String.format("%04x:%02x",
          d.address().domain(), d.busRange().get().secondary())));
    }
    if (d.sriov().isPresent() && !ctx.virtualFunction()) {
      DeviceSpec.SriovSpec s = d.sriov().get();
      write(dir.resolve("sriov_totalvfs"), s.totalVfs() + "\n");
      write(dir.resolve("sriov_numvfs"), "0\n");
      write(dir.resolve("sriov_offset"), s.firstVfOffset() + "\n");
      write(dir.resolve("sriov_stride"), s.vfStride() + "\n");
      write(dir.resolve("sriov_vf_device"), Integer.toHexString(s.vfDeviceId()) + "\n");
      write(dir.resolve("sriov_drivers_autoprobe"), "1\n");
    }
    link(dir.resolve("subsystem"), root.resolve("sys/bus/pci"));
    link(deviceLink(d.address()), dir);
    if (d.iommuGroup().isPresent()) {
      joinGroup(d.address(), dir, d.iommuGroup().getAsInt());
    }
  }

  private void joinGroup(PciAddress a, Path dir, int group) throws IOException {
    joinGroup(a.toString(), dir, group);
  }

  /** Makes the device at {@code dir}, named {@code name}, a member of IOMMU group {@code group}. */
  void joinGroup(String name, Path dir, int group) throws IOException {
    Path g = groups().resolve(Integer.toString(group));
    if (!Files.isDirectory(g)) {
      Files.createDirectories(g.resolve("devices"));
      write(g.resolve("type"), domainType + "\n");
      write(g.resolve("reserved_regions"), msiRegion);
    }
    link(g.resolve("devices").resolve(name), dir);
    link(dir.resolve("iommu_group"), g);
  }

  /** Removes a function (a VF going away): its links, bindings, group membership and directory. */
  void removeFunction(PciAddress a) throws IOException {
    Path dir = deviceDir(a);
    unbind(a);
    OptionalInt g = group(a);
    if (g.isPresent()) {
      Path gdir = groups().resolve(Integer.toString(g.getAsInt()));
      Files.deleteIfExists(gdir.resolve("devices").resolve(a.toString()));
      if (groupMembers(g.getAsInt()).isEmpty()) {
        deleteTree(gdir);
      }
    }
    Files.deleteIfExists(deviceLink(a));
    deleteTree(dir);
  }

  /** The spec of VF {@code index} of a physical function. */
  static DeviceSpec vfSpec(DeviceSpec pf, int index, OptionalInt group) {
    DeviceSpec.SriovSpec s = pf.sriov().orElseThrow();
    Bar bar = s.vfBar();
    DeviceSpec.Builder b = DeviceSpec.builder(s.vfAddress(pf.address(), index))
        .parent(pf.parent().orElse(null))
        .id(new PciId(pf.id().vendor(), s.vfDeviceId())).subsystem(pf.subsystem())
        .pciClass(pf.pciClass()).revision(pf.revision())
        .addBar(new Bar(0, bar.start() + index * bar.size(), bar.size(), bar.is64Bit(),
            bar.prefetchable(), false))
        .numaNode(pf.numaNode()).driver(s.vfDriver().orElse(null)).resettable(true);
    if (group.isPresent()) {
      b.iommuGroup(group.getAsInt());
    }
    return b.build();
  }

  static final ConfigSpace.Context VF_CONTEXT = new ConfigSpace.Context(false, true, null, 0, 0, 0);

  /**
   * Creates VFs {@code 0..count-1} of a PF next to it, each in a new IOMMU group when the PF has
   * one, and records the count in {@code sriov_numvfs} and the PF's config space.
   */
  List<DeviceSpec> createVfs(DeviceSpec pf, int count) throws IOException {
    Path pfDir = deviceDir(pf.address());
    boolean grouped = group(pf.address()).isPresent();
    List<DeviceSpec> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      DeviceSpec vf = vfSpec(pf, i, grouped ? OptionalInt.of(maxGroup() + 1)
          : OptionalInt.empty());
      createFunction(vf, pfDir.getParent(), VF_CONTEXT, null);
      Path vfDir = deviceDir(vf.address());
      link(pfDir.resolve("virtfn" + i), vfDir);
      link(vfDir.resolve("physfn"), pfDir);
      out.add(vf);
    }
    setNumVfs(pfDir, count);
    return out;
  }

  /** Removes every VF of a PF (unbinding them) and sets {@code sriov_numvfs} to 0. */
  void removeVfs(PciAddress pf) throws IOException {
    Path pfDir = deviceDir(pf);
    for (PciAddress vf : virtualFunctions(pf)) {
      removeFunction(vf);
    }
    try (DirectoryStream<Path> s = Files.newDirectoryStream(pfDir, "virtfn*")) {
      for (Path p : s) {
        Files.delete(p);
      }
    }
    setNumVfs(pfDir, 0);
  }

  /** The VFs of a PF from its {@code virtfnN} links, in index order. */
  List<PciAddress> virtualFunctions(PciAddress pf) throws IOException {
    Path pfDir = deviceDir(pf);
    java.util.TreeMap<Integer, PciAddress> byIndex = new java.util.TreeMap<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(pfDir, "virtfn*")) {
      for (Path p : s) {
        String name = p.getFileName().toString();
        byIndex.put(Integer.parseInt(name.substring("virtfn".length())),
            PciAddress.parse(Files.readSymbolicLink(p).getFileName().toString()));
      }
    }
    return List.copyOf(byIndex.values());
  }

  private static void setNumVfs(Path pfDir, int count) throws IOException {
    write(pfDir.resolve("sriov_numvfs"), count + "\n");
    byte[] config = Files.readAllBytes(pfDir.resolve("config"));
    ConfigSpace.setNumVfs(config, count);
    Files.write(pfDir.resolve("config"), config);
  }

  static String modalias(DeviceSpec d) {
    int c = d.pciClass().code();
    return String.format("pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n", d.id().vendor(),
        d.id().device(), d.subsystem().vendor(), d.subsystem().device(), (c >> 16) & 0xff,
        (c >> 8) & 0xff, c & 0xff);
  }

  /** The {@code resource} file: 13 lines for endpoints, 17 for bridges. */
  static String resource(DeviceSpec d, boolean virtualFunction, Windows windows) {
    long[][] lines = new long[d.isBridge() ? 17 : 13][3];
    for (Bar bar : d.bars()) {
      lines[bar.index()] = new long[] {bar.start(), bar.end(), flags(bar)};
    }
    if (d.sriov().isPresent() && !virtualFunction) {
      Bar vf = d.sriov().get().vfBar();
      lines[7] = new long[] {vf.start(), vf.start() + vf.size() * d.sriov().get().totalVfs() - 1,
          flags(vf)};
    }
    if (d.isBridge() && windows != null) {
      windows.io().ifPresent(r -> lines[13] = window(r, 0x101));
      windows.mem().ifPresent(r -> lines[14] = window(r, 0x200));
      windows.pref().ifPresent(r -> lines[15] = window(r, 0x102201));
    }
    StringBuilder sb = new StringBuilder();
    for (long[] l : lines) {
      sb.append(String.format("0x%016x 0x%016x 0x%016x\n", l[0], l[1], l[2]));
    }
    return sb.toString();
  }

  private static long[] window(Range r, long flags) {
    return new long[] {r.start(), r.end(), flags};
  }

  /** The kernel's resource flags for a BAR (SYSFS.md §3). */
  static long flags(Bar bar) {
    if (bar.io()) {
      return 0x40101;
    }
    return 0x40200 | (bar.prefetchable() ? 0x2008 : 0) | (bar.is64Bit() ? 0x100004 : 0);
  }

  // ---- file helpers -------------------------------------------------------------------------

  static String read(Path p) throws IOException {
    return Files.readString(p, StandardCharsets.UTF_8);
  }

  static void write(Path p, String content) throws IOException {
    Files.writeString(p, content, StandardCharsets.UTF_8);
  }

  private static void writeUnchecked(Path p, String content) {
    try {
      write(p, content);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A relative symbolic link, as sysfs has them. */
  static void link(Path link, Path target) throws IOException {
    Files.deleteIfExists(link);
    Files.createSymbolicLink(link, link.getParent().relativize(target));
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
        for (Path p : s) {
          deleteTree(p);
        }
      }
    }
    Files.delete(dir);
  }
}
