package io.gpuvirt.core.vfio;

import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.IllegalHostPathException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.host.SysfsFormatException;
import io.gpuvirt.core.pci.PciAddress;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which PCI functions back a mounted filesystem, found through {@link Sysfs} only: the mount table
 * {@value #MOUNTS}, each {@code /dev/NAME} source mapped to {@code /sys/class/block/NAME}, device
 * mapper and md devices followed through their {@code slaves/} to the disks under them (a
 * partition through its disk), and the PCI function taken from the block device's canonical sysfs
 * path ({@code /sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p1}
 * is backed by {@code 0000:02:00.0}). An NVMe namespace under a multipath subsystem
 * ({@code /sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1}) is backed by every
 * controller of that subsystem.
 *
 * <p>Sources that are not under {@code /dev/} (proc, tmpfs, overlay, NFS) are not block devices.
 * A {@code /dev/} source that sysfs does not know ({@code /dev/root} on a kernel booted without an
 * initramfs) cannot be traced and is logged and skipped; a block device with no PCI function on its
 * path (loop, zram) is virtual and backs no device.
 */
final class MountedDevices {
  private static final Logger LOG = LoggerFactory.getLogger(MountedDevices.class);
  static final String MOUNTS = "/proc/self/mounts";
  private static final String CLASS_BLOCK = "/sys/class/block";
  private static final Pattern PCI_SEGMENT =
      Pattern.compile("(?:^|/)([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7])(?=/|$)");
  private static final Pattern BLOCK_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:+@!-]{0,63}");
  private static final Pattern NVME_SUBSYSTEM = Pattern.compile("nvme-subsys[0-9]+");
  private static final Pattern NVME_CONTROLLER = Pattern.compile("nvme[0-9]+");
  private static final int MAX_DEPTH = 16;

  /** One line of the mount table, octal escapes decoded. */
  record Mount(String source, String mountPoint, String fsType) {}

  /** A PCI function under the block device {@code source} that is mounted at {@code mountPoint}. */
  record Backing(PciAddress device, String source, String mountPoint, String fsType) {
    String describe() {
      return source + " on " + mountPoint + " (" + fsType + ")";
    }
  }

  private final Sysfs sysfs;

  private MountedDevices(Sysfs sysfs) {
    this.sysfs = sysfs;
  }

  /**
   * Every (PCI function, mounted block device) pair of the host, in mount-table order; empty when
   * the host has no mount table at {@value #MOUNTS} (the caller decides what that means).
   *
   * @throws SysfsFormatException naming the file and line when the mount table is malformed
   */
  static Optional<List<Backing>> of(Sysfs sysfs) {
    if (!sysfs.exists(MOUNTS)) {
      return Optional.empty();
    }
    MountedDevices finder = new MountedDevices(sysfs);
    List<Backing> out = new ArrayList<>();
    for (Mount m : parse(sysfs.read(MOUNTS))) {
      Optional<String> name = finder.blockName(m.source());
      if (name.isEmpty()) {
        continue;
      }
      for (PciAddress device : finder.functions(name.get(), new TreeSet<>(), 0)) {
        out.add(new Backing(device, m.source(), m.mountPoint(), m.fsType()));
      }
    }
    return Optional.of(List.copyOf(out));
  }

  /**
   * Parses a mount table in the kernel's format: one mount a line, six fields separated by single
   * spaces (source, mount point, type, options, dump, pass), with space, tab, newline and backslash
   * in the first two written as octal escapes ({@code \040}).
   *
   * @throws SysfsFormatException naming {@value #MOUNTS} and the line for anything else
   */
  static List<Mount> parse(String text) {
    List<Mount> mounts = new ArrayList<>();
    if (text.isEmpty()) {
      return List.of();
    }
    String[] lines = text.split("\n", -1);
    int count = text.endsWith("\n") ? lines.length - 1 : lines.length;
    for (int i = 0; i < count; i++) {
      String line = lines[i];
      int number = i + 1;
      String[] f = line.split(" ", -1);
      String expected = "6 fields separated by single spaces (source, mount point, type,"
          + " options, dump, pass) on line " + number;
      if (f.length != 6) {
        throw new SysfsFormatException(MOUNTS, line, expected);
      }
      for (String field : f) {
        if (field.isEmpty()) {
          throw new SysfsFormatException(MOUNTS, line, expected);
        }
      }
      if (!f[4].matches("[0-9]+") || !f[5].matches("[0-9]+")) {
        throw new SysfsFormatException(MOUNTS, line, "numbers in the dump and pass fields on"
            + " line " + number);
      }
      String source = unescape(f[0], line, number);
      String mountPoint = unescape(f[1], line, number);
      if (!mountPoint.startsWith("/")) {
        throw new SysfsFormatException(MOUNTS, line, "an absolute mount point on line " + number);
      }
      mounts.add(new Mount(source, mountPoint, unescape(f[2], line, number)));
    }
    return List.copyOf(mounts);
  }

  /** Decodes the kernel's {@code \ooo} escapes; any other backslash is malformed. */
  private static String unescape(String field, String line, int number) {
    if (field.indexOf('\\') < 0) {
      return field;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (int i = 0; i < field.length(); i++) {
      int next = field.indexOf('\\', i);
      if (next != i) {
        int end = next < 0 ? field.length() : next;
        byte[] b = field.substring(i, end).getBytes(StandardCharsets.UTF_8);
        bytes.write(b, 0, b.length);
        i = end - 1;
        continue;
      }
      if (i + 3 >= field.length() || !field.substring(i + 1, i + 4).matches("[0-3][0-7]{2}")) {
        throw new SysfsFormatException(MOUNTS, line, "octal escapes of three digits (\\040) after"
            + " a backslash on line " + number);
      }
      bytes.write(Integer.parseInt(field.substring(i + 1, i + 4), 8));
      i += 3;
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  /** The {@code /sys/class/block} name of a mount source, if it is a block device sysfs knows. */
  private Optional<String> blockName(String source) {
    if (!source.startsWith("/dev/")) {
      return Optional.empty();
    }
    String rest = source.substring("/dev/".length());
    if (BLOCK_NAME.matcher(rest).matches() && sysfs.exists(CLASS_BLOCK + "/" + rest)) {
      return Optional.of(rest);
    }
    if (rest.startsWith("mapper/")) {
      Optional<String> dm = deviceMapper(rest.substring("mapper/".length()));
      if (dm.isPresent()) {
        return dm;
      }
    }
    // /dev/md/NAME, /dev/disk/by-uuid/..., /dev/vg/lv: links to ../NAME on a real host
    try {
      if (sysfs.exists(source)) {
        String canonical = sysfs.canonicalPath(source);
        String name = canonical.substring(canonical.lastIndexOf('/') + 1);
        if (BLOCK_NAME.matcher(name).matches() && sysfs.exists(CLASS_BLOCK + "/" + name)) {
          return Optional.of(name);
        }
      }
    } catch (IllegalHostPathException | HostAccessException e) {
      LOG.debug("cannot resolve mount source {}: {}", source, e.getMessage());
    }
    LOG.warn("mount source {} is not a block device under {}; it cannot be traced to a PCI"
        + " device and is not guarded", source, CLASS_BLOCK);
    return Optional.empty();
  }

  /** The {@code dm-N} whose {@code dm/name} is {@code name}. */
  private Optional<String> deviceMapper(String name) {
    if (!sysfs.isDirectory(CLASS_BLOCK)) {
      return Optional.empty();
    }
    for (String entry : sysfs.list(CLASS_BLOCK)) {
      String file = CLASS_BLOCK + "/" + entry + "/dm/name";
      if (entry.startsWith("dm-") && BLOCK_NAME.matcher(entry).matches() && sysfs.exists(file)
          && sysfs.read(file).strip().equals(name)) {
        return Optional.of(entry);
      }
    }
    return Optional.empty();
  }

  /** The PCI functions under block device {@code name}: through slaves, else on its path. */
  private Set<PciAddress> functions(String name, Set<String> seen, int depth) {
    Set<PciAddress> out = new LinkedHashSet<>();
    if (depth > MAX_DEPTH || !seen.add(name)) {
      return out;
    }
    String dir = sysfs.canonicalPath(CLASS_BLOCK + "/" + name);
    // A partition's slaves and PCI function are its disk's.
    String disk = sysfs.exists(dir + "/partition") ? parent(dir) : dir;
    String slaves = disk + "/slaves";
    if (sysfs.isDirectory(slaves) && !sysfs.list(slaves).isEmpty()) {
      for (String slave : sysfs.list(slaves)) {
        if (BLOCK_NAME.matcher(slave).matches()) {
          out.addAll(functions(slave, seen, depth + 1));
        }
      }
      return out;
    }
    Optional<PciAddress> own = lastPciSegment(disk);
    if (own.isPresent()) {
      out.add(own.get());
      return out;
    }
    String subsystem = parent(disk);
    if (NVME_SUBSYSTEM.matcher(subsystem.substring(subsystem.lastIndexOf('/') + 1)).matches()) {
      for (String entry : sysfs.list(subsystem)) {
        if (NVME_CONTROLLER.matcher(entry).matches()) {
          lastPciSegment(sysfs.canonicalPath(subsystem + "/" + entry)).ifPresent(out::add);
        }
      }
    }
    return out;
  }

  private static Optional<PciAddress> lastPciSegment(String path) {
    Matcher m = PCI_SEGMENT.matcher(path);
    String last = null;
    while (m.find()) {
      last = m.group(1);
    }
    return Optional.ofNullable(last).map(PciAddress::parse);
  }

  private static String parent(String path) {
    int slash = path.lastIndexOf('/');
    return slash <= 0 ? "/" : path.substring(0, slash);
  }
}
