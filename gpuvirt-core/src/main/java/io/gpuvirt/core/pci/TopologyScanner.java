package io.gpuvirt.core.pci;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.HostPaths;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.host.SysfsFormatException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a host's PCI devices and IOMMU groups from sysfs into a {@link Topology}.
 *
 * <pre>{@code
 * Topology t = TopologyScanner.scan(Sysfs.host());
 * System.out.println(t.summary());
 * }</pre>
 *
 * <p>What is read, for every entry of {@code /sys/bus/pci/devices} (each name must be a canonical
 * PCI address, {@code 0000:17:00.0}):
 *
 * <ul>
 *   <li>parent and root bus from the entry's canonical path: the parent directory is the upstream
 *       bridge when its name is a PCI address, or the root bus {@code pciDDDD:BB};
 *   <li>{@code vendor}, {@code device}, {@code class} (required), exactly as the kernel prints them
 *       ({@code 0x%04x}, class {@code 0x%06x}, revision {@code 0x%02x}); {@code subsystem_vendor} and
 *       {@code subsystem_device} (missing: 0), {@code revision} (missing: 0);
 *   <li>{@code driver} link (missing: no driver; otherwise it must resolve to a directory
 *       {@code /sys/bus/pci/drivers/NAME}), {@code driver_override} (missing, empty or
 *       {@code (null)}: none), {@code iommu_group} link (missing: no group), {@code numa_node}
 *       (missing: -1);
 *   <li>BARs from lines 0 to 5 of {@code resource} (required);
 *   <li>bus range from {@code secondary_bus_number} and {@code subordinate_bus_number} (both or
 *       neither; neither: not a bridge);
 *   <li>PCI Express port type from the capability list in {@code config} (missing file, no
 *       capability, or only the 64-byte header readable: unknown);
 *   <li>SR-IOV from {@code sriov_totalvfs}, {@code sriov_numvfs} and the {@code virtfnN} links;
 *       the physical function from the {@code physfn} link;
 *   <li>{@code reset} (exists: resettable) and {@code label} (missing or blank: none).
 * </ul>
 *
 * <p>Each device directory is opened and listed once and each attribute and link read relative
 * to it ({@link Sysfs.Directory}); the device's canonical path comes from its link, resolved once
 * (see {@code SysfsWalk}: an upstream bridge's listing tells that the function's directory below
 * it is no link), and a {@code driver} link's target once per driver. A host of
 * {@value #PARALLEL_FROM} functions or more is read by the threads of the common fork-join pool,
 * each device by one thread, and so are its IOMMU groups when there are as many; the result, and
 * the error when a file is bad (the first device in {@code /sys/bus/pci/devices} order, or group
 * in {@code /sys/kernel/iommu_groups} order, as a single thread would find it), are the same. Speed
 * against {@code lspci} is measured by the {@code gpuvirt-benchmarks} module's
 * {@code ScanBenchmark}, never asserted.
 *
 * <p>IOMMU groups come from {@code /sys/kernel/iommu_groups/N/devices}; a missing or empty
 * directory means the IOMMU is off. The scan checks that the tree is consistent: every parent,
 * group member, VF and PF is itself a listed device, and each device's {@code iommu_group} link
 * agrees with the group that lists it.
 *
 * <p>Errors: a file whose content is not what the kernel writes raises {@link SysfsFormatException}
 * naming the file, the content and the expected format; a required file that cannot be read raises
 * {@link io.gpuvirt.core.host.HostAccessException}; a root without {@code /sys/bus/pci/devices}
 * raises {@link GpuvirtException} saying it is not a sysfs tree.
 */
public final class TopologyScanner {
  static final String DEVICES = "/sys/bus/pci/devices";
  static final String IOMMU_GROUPS = "/sys/kernel/iommu_groups";
  static final String DRIVERS = "/sys/bus/pci/drivers";

  private static final Pattern ROOT_BUS_DIR = Pattern.compile("pci([0-9a-f]{4,8}):([0-9a-f]{2})");
  private static final Pattern VIRTFN = Pattern.compile("virtfn([0-9]{1,5})");
  /** A name that is meant as a PCI address (then parsed strictly), as opposed to another device. */
  private static final Pattern PCI_LIKE =
      Pattern.compile("[0-9a-fA-F]{1,8}:[0-9a-fA-F]{1,2}:[0-9a-fA-F]{1,2}\\.[0-9a-fA-F].*");
  /**
   * Functions (or IOMMU groups) from which they are read by several threads (the common fork-join
   * pool), each device or group by one: a host this large spends its scan in the kernel's file
   * calls, which run side by side on several cores; below it, handing work to threads costs more
   * than it saves.
   */
  static final int PARALLEL_FROM = 512;
  /** Devices (or groups) a thread of a parallel pass takes at a time. */
  static final int CHUNK = 16;
  private static final Pattern PCI_BUS_ENTRY = Pattern.compile("[0-9a-f]{4,8}:([0-9a-f]{2})");

  private TopologyScanner() {}

  /**
   * Scans the host behind {@code sysfs}.
   *
   * @throws GpuvirtException when the root is not a sysfs tree
   * @throws SysfsFormatException when a file's content is not what the kernel writes
   * @throws io.gpuvirt.core.host.HostAccessException when a required file cannot be read
   */
  public static Topology scan(Sysfs sysfs) {
    String source = "host root " + sysfs.root();
    requireSysfsTree(sysfs);
    List<PciDevice> read;
    GroupListing groupListing;
    try (Sysfs.Directory devicesDir = sysfs.directory(DEVICES)) {
      List<PciAddress> addresses = new ArrayList<>();
      for (String name : devicesDir.list()) {
        addresses.add(SysfsAttributes.address(DEVICES, name));
      }
      groupListing = new GroupListing(sysfs, addresses.size() >= PARALLEL_FROM);
      try {
        SysfsWalk walk = new SysfsWalk(sysfs, devicesDir, addresses.size());
        read = inOrder(addresses.size(), i -> readDevice(sysfs, walk, addresses.get(i)));
      } finally {
        groupListing.await(); // nothing of the scan goes on once it has returned or failed
      }
    }
    Map<PciAddress, PciDevice> devices = new TreeMap<>();
    for (PciDevice d : read) {
      devices.put(d.address(), d);
    }
    List<IommuGroup> groups = readGroups(sysfs, groupListing.numbers());
    checkConsistent(devices, groups);
    return new Topology(source, List.copyOf(devices.values()), groups);
  }

  /**
   * Checks that the root behind {@code sysfs} is a sysfs tree (it has {@code /sys/bus/pci/devices}),
   * the rule {@link #scan} applies; callers that write state next to a host root check it first, so
   * that a wrong root is refused before anything is written.
   *
   * @throws GpuvirtException naming the root and the fix when it is not
   */
  public static void requireSysfsTree(Sysfs sysfs) {
    if (!sysfs.isDirectory(DEVICES)) {
      throw new GpuvirtException("host root " + sysfs.root() + " is not a sysfs tree: " + DEVICES
          + " is missing; pass the directory that holds sys/ (the real host is /)");
    }
  }

  /**
   * One device directory, opened ({@link Sysfs#directory}) and listed once: an attribute that is
   * not listed is missing without a look of its own (as {@link Sysfs#exists} would say); one that
   * is listed is read with {@link Sysfs.Directory#readIfExists}, which still says missing for a
   * link that does not resolve. When the directory cannot be listed every attribute is looked at,
   * as if listed.
   */
  private static final class Entry implements AutoCloseable {
    final PciAddress address;
    final String dir;
    final String prefix;
    final String canonical;
    final Sysfs.Directory files;
    private final Optional<List<String>> listing;

    Entry(Sysfs sysfs, SysfsWalk walk, PciAddress address) {
      this.address = address;
      this.dir = address.sysfsPath();
      this.prefix = dir + "/";
      this.files = sysfs.directory(dir);
      Optional<List<String>> listed;
      try {
        listed = Optional.of(files.list());
      } catch (GpuvirtException e) {
        listed = Optional.empty();
      }
      this.listing = listed;
      try {
        this.canonical = walk.canonicalDevicePath(address, listed.isPresent());
        if (listed.isPresent()) {
          walk.learnBelow(canonical, files, listed.get());
        }
      } catch (RuntimeException e) {
        files.close();
        throw e;
      }
    }

    String path(String attribute) {
      return prefix + attribute;
    }

    /** Whether the attribute may be there: listed, or the directory could not be listed. */
    boolean has(String attribute) {
      // the listing is sorted (Sysfs#list): a binary search, no set built per device
      return listing.isEmpty() || Collections.binarySearch(listing.get(), attribute) >= 0;
    }

    /** The directory's entries, sorted, as {@link Sysfs#list} gives them. */
    List<String> list(Sysfs sysfs) {
      return listing.isPresent() ? listing.get() : sysfs.list(dir);
    }

    @Override
    public void close() {
      files.close();
    }
  }

  private static PciDevice readDevice(Sysfs sysfs, SysfsWalk walk, PciAddress a) {
    try (Entry e = new Entry(sysfs, walk, a)) {
      return readDevice(sysfs, walk, e);
    }
  }

  private static PciDevice readDevice(Sysfs sysfs, SysfsWalk walk, Entry e) {
    PciAddress a = e.address;
    PciDevice.Builder b = PciDevice.builder(a);
    readPlace(a, e.canonical, b);
    b.id(new PciId(hex(e, "vendor", 4), hex(e, "device", 4)));
    b.subsystem(new PciId(optionalHex(e, "subsystem_vendor", 4),
        optionalHex(e, "subsystem_device", 4)));
    b.pciClass(new PciClass(hex(e, "class", 6)));
    b.revision(optionalHex(e, "revision", 2));
    b.driver(driver(sysfs, walk, e).orElse(null));
    b.driverOverride(overrideValue(optional(e, "driver_override")).orElse(null));
    String groupLink = e.path("iommu_group");
    if (e.has("iommu_group")) {
      e.files.readLink("iommu_group").ifPresent(t -> b.iommuGroup(
          SysfsAttributes.decimalName(groupLink, SysfsAttributes.basename(groupLink, t),
              "a link to /sys/kernel/iommu_groups/N")));
    }
    String numa = e.path("numa_node");
    b.numaNode(optional(e, "numa_node")
        .map(c -> SysfsAttributes.decimal(numa, c, -1, Integer.MAX_VALUE)).orElse(-1));
    String resource = e.path("resource");
    b.bars(SysfsAttributes.resource(resource, e.files.read("resource")));
    readBusRange(sysfs, e).ifPresent(b::busRange);
    String config = e.path("config");
    if (e.has("config")) {
      e.files.readBytesIfExists("config")
          .flatMap(bytes -> SysfsAttributes.portType(config, bytes)).ifPresent(b::portType);
    }
    readSriov(sysfs, e).ifPresent(b::sriov);
    String physfn = e.path("physfn");
    if (e.has("physfn")) {
      e.files.readLink("physfn").ifPresent(t ->
          b.physicalFunction(SysfsAttributes.address(physfn, SysfsAttributes.basename(physfn, t))));
    }
    b.resettable(e.has("reset") && e.files.exists("reset"));
    optional(e, "label").ifPresent(label -> {
      String text = label.strip();
      b.label(text.isEmpty() ? null : text);
    });
    try {
      return b.build();
    } catch (IllegalArgumentException | InvalidValueException ex) {
      throw new SysfsFormatException(a.sysfsPath(), ex.getMessage(), "a consistent PCI device");
    }
  }

  /**
   * Parent and root bus from the canonical path: {@code /sys/devices/pci0000:14/.../<bdf>}. The
   * segments are found by index, without splitting the path or a regular expression per segment;
   * a path with an empty segment or no slash goes the general way ({@link #readPlaceSplit}), which
   * answers the same for every path.
   */
  private static void readPlace(PciAddress a, String canonical, PciDevice.Builder b) {
    int last = canonical.lastIndexOf('/');
    if (last < 0 || last == canonical.length() - 1 || canonical.contains("//")) {
      readPlaceSplit(a, canonical, b);
      return;
    }
    String name = a.toString();
    if (canonical.length() - last - 1 != name.length()
        || !canonical.startsWith(name, last + 1)) {
      throw new SysfsFormatException(a.sysfsPath(), canonical,
          "a link to a device directory named " + a);
    }
    String expected = "a device directory under /sys/devices/pciDDDD:BB/";
    int start = canonical.lastIndexOf('/', last - 1) + 1;
    String up = canonical.substring(start, last);
    if (rootBus(up, 0, up.length()) == null) {
      if (!PciAddress.isValid(up)) {
        throw new SysfsFormatException(a.sysfsPath(), canonical, expected
            + " whose parent directory is a bridge (DDDD:BB:DD.F) or a root bus (pciDDDD:BB)");
      }
      b.parent(SysfsAttributes.address(a.sysfsPath(), up));
    }
    for (int end = last; end >= 0; ) {
      int from = canonical.lastIndexOf('/', end - 1) + 1; // 0 when no slash is left
      String bus = rootBus(canonical, from, end);
      if (bus != null) {
        b.rootBus(bus);
        return;
      }
      end = from - 1;
    }
    throw new SysfsFormatException(a.sysfsPath(), canonical, expected);
  }

  /**
   * The root bus {@code DDDD:BB} when {@code s[from, to)} is a root bus directory name
   * {@code pciDDDD:BB} (4 to 8 lower-case hex digits, a colon, 2), as {@link #ROOT_BUS_DIR} matches;
   * else null.
   */
  private static String rootBus(String s, int from, int to) {
    int length = to - from;
    if (length < 10 || length > 14 || !s.startsWith("pci", from) || s.charAt(to - 3) != ':') {
      return null;
    }
    for (int i = from + 3; i < to; i++) {
      char c = s.charAt(i);
      if (i != to - 3 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return null;
      }
    }
    return s.substring(from + 3, to);
  }

  /** {@link #readPlace} by splitting the path: every path, as it was read before. */
  private static void readPlaceSplit(PciAddress a, String canonical, PciDevice.Builder b) {
    String[] segments = canonical.split("/");
    if (segments.length == 0 || !segments[segments.length - 1].equals(a.toString())) {
      throw new SysfsFormatException(a.sysfsPath(), canonical,
          "a link to a device directory named " + a);
    }
    String expected = "a device directory under /sys/devices/pciDDDD:BB/";
    if (segments.length < 2) {
      throw new SysfsFormatException(a.sysfsPath(), canonical, expected);
    }
    String up = segments[segments.length - 2];
    if (!ROOT_BUS_DIR.matcher(up).matches()) {
      if (!PciAddress.isValid(up)) {
        throw new SysfsFormatException(a.sysfsPath(), canonical, expected
            + " whose parent directory is a bridge (DDDD:BB:DD.F) or a root bus (pciDDDD:BB)");
      }
      b.parent(SysfsAttributes.address(a.sysfsPath(), up));
    }
    for (int i = segments.length - 2; i >= 0; i--) {
      Matcher m = ROOT_BUS_DIR.matcher(segments[i]);
      if (m.matches()) {
        b.rootBus(m.group(1) + ":" + m.group(2));
        return;
      }
    }
    throw new SysfsFormatException(a.sysfsPath(), canonical, expected);
  }

  /** The driver from the listed {@code driver} link, its target resolved once per driver. */
  private static Optional<String> driver(Sysfs sysfs, SysfsWalk walk, Entry e) {
    if (!e.has("driver")) {
      return Optional.empty(); // no entry: unbound, as driver(sysfs, a) says without a link
    }
    Optional<String> target = e.files.readLink("driver");
    if (target.isPresent()) {
      Optional<String> name = walk.driverName(e.canonical, target.get());
      if (name.isPresent()) {
        return name;
      }
    }
    return driver(sysfs, e.address); // the long way: the same answer, or the exact refusal
  }

  /**
   * The driver {@code a} is bound to now, from its {@code driver} link; empty when there is no
   * {@code driver} entry (unbound). The one reader of the link, for the scanner and the binder
   * alike.
   *
   * <p>Strict, as the kernel makes it: the entry must be a symbolic link that resolves to an
   * existing directory {@code /sys/bus/pci/drivers/NAME}, and NAME is returned. A regular file or
   * directory named {@code driver}, a dangling link, a link loop or a link to anywhere else is a
   * tree that is not Linux sysfs and raises {@link SysfsFormatException} naming the link.
   */
  public static Optional<String> driver(Sysfs sysfs, PciAddress a) {
    String link = a.sysfsPath("driver");
    Optional<String> target = sysfs.readLink(link);
    String expected = "a link to a directory " + DRIVERS + "/NAME, as the kernel makes it";
    if (target.isEmpty()) {
      if (sysfs.exists(link)) {
        throw new SysfsFormatException(link, "a file or directory, not a link", expected);
      }
      return Optional.empty();
    }
    if (!sysfs.isDirectory(link)) {
      throw new SysfsFormatException(link, target.get() + " (dangling, a loop or not a directory)",
          expected);
    }
    String canonical;
    try {
      canonical = sysfs.canonicalPath(link);
    } catch (GpuvirtException e) {
      throw new SysfsFormatException(link, target.get() + " (" + e.getMessage() + ")", expected);
    }
    String prefix = DRIVERS + "/";
    String name = canonical.startsWith(prefix) ? canonical.substring(prefix.length()) : "";
    if (name.isEmpty() || name.contains("/")) {
      throw new SysfsFormatException(link, target.get() + " (resolves to " + canonical + ")",
          expected);
    }
    return Optional.of(name);
  }

  /**
   * The {@code driver_override} of {@code a} now; empty when the file is missing, empty or
   * {@code (null)} (the kernel's word for unset). The one reader of the attribute.
   */
  public static Optional<String> driverOverride(Sysfs sysfs, PciAddress a) {
    return overrideValue(sysfs.readIfExists(a.sysfsPath("driver_override")));
  }

  /** The override a {@code driver_override} content sets: none for empty or {@code (null)}. */
  private static Optional<String> overrideValue(Optional<String> content) {
    if (content.isEmpty()) {
      return Optional.empty();
    }
    String value = content.get().strip();
    return value.isEmpty() || value.equals("(null)") ? Optional.empty() : Optional.of(value);
  }

  private static Optional<BusRange> readBusRange(Sysfs sysfs, Entry e) {
    String secondary = e.path("secondary_bus_number");
    String subordinate = e.path("subordinate_bus_number");
    Optional<String> secondaryText = optional(e, "secondary_bus_number");
    Optional<String> subordinateText = secondaryText.isPresent() ? Optional.empty()
        : optional(e, "subordinate_bus_number");
    if (secondaryText.isEmpty() && subordinateText.isEmpty()) {
      return busFromPciBusDirectory(sysfs, e);
    }
    int sec = SysfsAttributes.decimal(secondary, secondaryText.isPresent()
        ? secondaryText.get() : e.files.read("secondary_bus_number"), 0, 0xff);
    int sub = SysfsAttributes.decimal(subordinate, subordinateText.isPresent()
        ? subordinateText.get() : e.files.read("subordinate_bus_number"), 0, 0xff);
    if (sub < sec) {
      throw new SysfsFormatException(subordinate, Integer.toString(sub),
          "a subordinate bus number at least the secondary bus number " + sec);
    }
    return Optional.of(new BusRange(sec, sub));
  }

  /**
   * Kernels before 4.12 have no {@code secondary_bus_number}: a bridge shows only its
   * {@code pci_bus/DDDD:BB} directory. Its secondary bus is then BB; the subordinate bus is not
   * shown, so it is taken as BB too. Either way the device is a bridge ({@link PciDevice#isBridge}).
   */
  private static Optional<BusRange> busFromPciBusDirectory(Sysfs sysfs, Entry e) {
    String dir = e.path("pci_bus");
    if (!e.has("pci_bus") || !sysfs.isDirectory(dir)) {
      return Optional.empty();
    }
    for (String entry : sysfs.list(dir)) {
      Matcher m = PCI_BUS_ENTRY.matcher(entry);
      if (m.matches()) {
        int bus = Integer.parseInt(m.group(1), 16);
        return Optional.of(new BusRange(bus, bus));
      }
    }
    throw new SysfsFormatException(dir, String.join(" ", sysfs.list(dir)),
        "an entry DDDD:BB naming the bridge's secondary bus");
  }

  private static Optional<Sriov> readSriov(Sysfs sysfs, Entry e) {
    String totalPath = e.path("sriov_totalvfs");
    Optional<String> totalText = optional(e, "sriov_totalvfs");
    if (totalText.isEmpty()) {
      return Optional.empty();
    }
    int total = SysfsAttributes.decimal(totalPath, totalText.get(), 0, 0xffff);
    String numPath = e.path("sriov_numvfs");
    int num = SysfsAttributes.decimal(numPath, e.files.read("sriov_numvfs"), 0, 0xffff);
    if (num > total) {
      throw new SysfsFormatException(numPath, Integer.toString(num),
          "at most sriov_totalvfs (" + total + ") VFs");
    }
    TreeMap<Integer, PciAddress> vfs = new TreeMap<>();
    for (String entry : e.list(sysfs)) {
      Matcher m = VIRTFN.matcher(entry);
      if (m.matches()) {
        String link = HostPaths.join(e.dir, entry);
        String target = e.files.readLink(entry).orElseThrow(() ->
            new SysfsFormatException(link, "a regular file", "a link to the VF's directory"));
        vfs.put(Integer.parseInt(m.group(1)),
            SysfsAttributes.address(link, SysfsAttributes.basename(link, target)));
      }
    }
    return Optional.of(new Sriov(total, num, new ArrayList<>(vfs.values())));
  }

  /**
   * The numbers of the IOMMU groups ({@code /sys/kernel/iommu_groups}), in listing order; none
   * when the IOMMU is off. On a large host it is listed by a thread of the common pool while
   * this thread reads devices (a few milliseconds that would leave a core idle at 4,118 groups);
   * its failure is raised only once the devices are read, so that a device's comes first, as
   * when the groups are listed after them.
   */
  private static final class GroupListing {
    private final Sysfs sysfs;
    private final PoolTask task;
    private boolean listed;
    private List<Integer> numbers;
    private RuntimeException failure;

    GroupListing(Sysfs sysfs, boolean early) {
      this.sysfs = sysfs;
      this.task = early ? new PoolTask(this::list) : null;
    }

    private void list() {
      try {
        numbers = groupNumbers(sysfs);
      } catch (RuntimeException e) {
        failure = e;
      } finally {
        listed = true;
      }
    }

    /**
     * Waits for the listing when a pool thread has started it; one that has not started (the
     * pool is busy) never will, and {@link #numbers} lists on this thread.
     */
    void await() {
      if (task != null) {
        task.takeBackOrAwait();
      }
    }

    /** The group numbers (after {@link #await}); listed now when no pool thread listed them. */
    List<Integer> numbers() {
      if (task != null) {
        task.rethrowError();
      }
      if (!listed) {
        list();
      }
      if (failure != null) {
        throw failure;
      }
      return numbers;
    }
  }

  /**
   * Work handed to the common pool that the submitting thread may take back: it belongs to
   * whoever comes first, the pool thread starting it or the submitting thread giving it up
   * ({@link #takeBackOrAwait}). So work a busy pool has not started by then never runs, and is
   * not waited for.
   */
  private static final class PoolTask {
    private final AtomicBoolean taken = new AtomicBoolean();
    private final ForkJoinTask<?> task;

    PoolTask(Runnable work) {
      this.task = ForkJoinPool.commonPool().submit(() -> {
        if (taken.compareAndSet(false, true)) {
          work.run();
        }
      });
    }

    /** Gives the work up if no pool thread has started it, else waits until it has finished. */
    void takeBackOrAwait() {
      if (!taken.compareAndSet(false, true)) {
        task.quietlyJoin();
      }
    }

    /** Throws the Error that ended the work on the pool thread, if one did (after the wait). */
    void rethrowError() {
      if (task.getException() instanceof Error e) {
        throw e;
      }
    }
  }

  private static List<Integer> groupNumbers(Sysfs sysfs) {
    if (!sysfs.isDirectory(IOMMU_GROUPS)) {
      return List.of();
    }
    List<Integer> numbers = new ArrayList<>();
    for (String name : sysfs.list(IOMMU_GROUPS)) {
      numbers.add(SysfsAttributes.decimalName(IOMMU_GROUPS, name, "group directories named"));
    }
    return numbers;
  }

  private static List<IommuGroup> readGroups(Sysfs sysfs, List<Integer> numbers) {
    return List.copyOf(inOrder(numbers.size(), i -> readGroup(sysfs, numbers.get(i))));
  }

  private static IommuGroup readGroup(Sysfs sysfs, int number) {
    String devicesDir = IOMMU_GROUPS + "/" + number + "/devices";
    List<PciAddress> members = new ArrayList<>();
    List<String> others = new ArrayList<>();
    for (String member : sysfs.list(devicesDir)) {
      if (PCI_LIKE.matcher(member).matches()) {
        members.add(SysfsAttributes.address(devicesDir, member));
      } else {
        others.add(nonPciMember(sysfs, devicesDir, member));
      }
    }
    return new IommuGroup(number, members, others);
  }

  /**
   * {@code read} of 0 to {@code count - 1}, in that order: by this thread and the threads of the
   * common fork-join pool when there are {@value #PARALLEL_FROM} or more, else by this thread.
   * Each thread takes the next {@value #CHUNK} indexes until none is left, so that the threads
   * finish within a few reads of each other (a parallel stream splits 4,118 functions on 2 cores
   * into 4 parts of about a thousand, and the thread that finishes first waits for the other).
   * When some fail, the failure of the lowest index is thrown, the one this thread reading in
   * order would meet first.
   */
  private static <T> List<T> inOrder(int count, IntFunction<T> read) {
    List<T> results = new ArrayList<>(count);
    if (count < PARALLEL_FROM) {
      for (int i = 0; i < count; i++) {
        results.add(read.apply(i));
      }
      return results;
    }
    Object[] done = new Object[count];
    RuntimeException[] failed = new RuntimeException[count];
    AtomicInteger next = new AtomicInteger();
    Runnable work = () -> {
      for (int from = next.getAndAdd(CHUNK); from < count; from = next.getAndAdd(CHUNK)) {
        for (int i = from, to = Math.min(count, from + CHUNK); i < to; i++) {
          try {
            done[i] = read.apply(i);
          } catch (RuntimeException e) {
            failed[i] = e;
          }
        }
      }
    };
    // a helper the pool has not started once this thread runs out of work never runs; one that
    // started is waited for, for the reads it took
    List<PoolTask> helpers = new ArrayList<>();
    for (int t = 0; t < ForkJoinPool.getCommonPoolParallelism(); t++) {
      helpers.add(new PoolTask(work));
    }
    try {
      work.run();
    } finally {
      helpers.forEach(PoolTask::takeBackOrAwait);
    }
    // a read's failure is kept above; only an Error ends a helper
    helpers.forEach(PoolTask::rethrowError);
    for (int i = 0; i < count; i++) {
      if (failed[i] != null) {
        throw failed[i];
      }
      @SuppressWarnings("unchecked") // done[i] is what read gave for i
      T result = (T) done[i];
      results.add(result);
    }
    return results;
  }

  /**
   * A group member that is not a PCI function: it must be a link into {@code /sys/devices} (a
   * platform or mediated device), or the entry is corrupt.
   */
  private static String nonPciMember(Sysfs sysfs, String devicesDir, String member) {
    String path = devicesDir + "/" + member;
    Optional<String> target = sysfs.readLink(path);
    if (target.isEmpty() || !target.get().contains("/devices/") || member.contains("/")) {
      throw new SysfsFormatException(path, target.orElse("not a link"),
          "a link to a device under /sys/devices: a PCI function named like 0000:17:00.0, or a "
              + "platform or mediated device");
    }
    return member;
  }

  private static void checkConsistent(Map<PciAddress, PciDevice> sorted, List<IommuGroup> groups) {
    // looked up about four times per device: by hash, not by comparisons down the tree
    Map<PciAddress, PciDevice> devices = new HashMap<>(sorted);
    for (PciDevice d : sorted.values()) {
      d.parent().ifPresent(p -> requireListed(devices, p, d.address()::sysfsPath, "its parent"));
      d.physicalFunction().ifPresent(
          p -> requireListed(devices, p, () -> d.address().sysfsPath("physfn"), "its PF"));
      d.sriov().ifPresent(s -> s.virtualFunctions()
          .forEach(vf -> requireListed(devices, vf, d.address()::sysfsPath, "its VF")));
    }
    Map<Integer, IommuGroup> byNumber = new HashMap<>();
    for (IommuGroup g : groups) {
      byNumber.put(g.number(), g);
      for (PciAddress member : g.members()) {
        PciDevice d = requireListed(devices, member,
            () -> IOMMU_GROUPS + "/" + g.number() + "/devices", "a member");
        if (d.iommuGroup().isEmpty() || d.iommuGroup().getAsInt() != g.number()) {
          throw new SysfsFormatException(member.sysfsPath("iommu_group"),
              d.iommuGroup().isEmpty() ? "no link" : "group " + d.iommuGroup().getAsInt(),
              "a link to group " + g.number() + ", which lists " + member
                  + " (the tree changed during the scan, or is inconsistent: scan again)");
        }
      }
    }
    for (PciDevice d : sorted.values()) {
      if (d.iommuGroup().isPresent()) {
        IommuGroup g = byNumber.get(d.iommuGroup().getAsInt());
        if (g == null || !g.members().contains(d.address())) {
          throw new SysfsFormatException(IOMMU_GROUPS, "no entry for " + d.address(),
              "group " + d.iommuGroup().getAsInt() + " to list " + d.address()
                  + ", as its iommu_group link says (scan again if the host was changing)");
        }
      }
    }
  }

  private static PciDevice requireListed(Map<PciAddress, PciDevice> devices, PciAddress a,
      Supplier<String> where, String role) {
    PciDevice d = devices.get(a);
    if (d == null) {
      throw new SysfsFormatException(where.get(), a.toString(),
          role + " to be listed in " + DEVICES + " as well");
    }
    return d;
  }

  private static int hex(Entry e, String attribute, int digits) {
    return SysfsAttributes.hex(e.path(attribute), e.files.read(attribute), digits);
  }

  private static int optionalHex(Entry e, String attribute, int digits) {
    return optional(e, attribute)
        .map(content -> SysfsAttributes.hex(e.path(attribute), content, digits)).orElse(0);
  }

  /** An optional attribute: empty when it is not listed, or {@link Sysfs#exists} says missing. */
  private static Optional<String> optional(Entry e, String attribute) {
    return e.has(attribute) ? e.files.readIfExists(attribute) : Optional.empty();
  }
}
