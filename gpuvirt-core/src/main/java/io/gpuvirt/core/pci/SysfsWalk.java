package io.gpuvirt.core.pci;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Sysfs;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What one scan learns about the tree's directories and links, so that each is looked at once: a
 * device's canonical path is its {@code /sys/bus/pci/devices} link resolved from the directory
 * that holds the link, checking only the directories that no other device has checked (each
 * upstream bridge's directory is a parent of many), instead of every link from the root for every
 * device; a {@code driver} link's target is resolved once per driver.
 *
 * <p>Exact, not a guess: a path is used as canonical only when every directory on it is known not
 * to be a link (a prefix of a canonical path, or checked: not a link and a directory). Whatever
 * falls outside that (an absolute link target, {@code ..} after a name, a link on the way, a
 * missing directory) is resolved by {@link Sysfs#canonicalPath}, which also raises the exact error.
 *
 * <p>Safe for the scanner's threads: what it learns is a fact of the tree, the same whichever
 * thread learns it first (two threads may both look at one directory; both find the same).
 */
final class SysfsWalk {
  private final Sysfs sysfs;
  /** {@code /sys/bus/pci/devices}, open while the scan lasts. */
  private final Sysfs.Directory devices;
  /** Whether {@code /sys/bus/pci/devices} is itself canonical (no link on the way to it). */
  private final boolean devicesCanonical;
  /** Directories checked so far: true when the path is canonical (no link on it, a directory). */
  private final Map<String, Boolean> canonicalDirs;
  /**
   * Paths that a listing of their directory showed are no link: a device's directory seen from
   * its bridge's (see {@link #learnBelow}), which then needs no {@code readlink} of its own.
   */
  private final Set<String> notLinks;
  /** Driver link targets (resolved lexically) to the driver's name, or empty when not a driver. */
  private final Map<String, Optional<String>> drivers = new ConcurrentHashMap<>();

  /**
   * A walk of the tree below {@code /sys/bus/pci/devices} (open as {@code devices}), which lists
   * {@code functions} entries: each function's directory is learnt, and the maps are sized for
   * that, so that they are not grown (rehashed) while the scan's threads fill them.
   */
  SysfsWalk(Sysfs sysfs, Sysfs.Directory devices, int functions) {
    this.sysfs = sysfs;
    this.devices = devices;
    this.canonicalDirs = new ConcurrentHashMap<>(2 * functions + 16);
    this.notLinks = ConcurrentHashMap.newKeySet(functions + 16);
    boolean canonical;
    try {
      canonical = sysfs.canonicalPath(TopologyScanner.DEVICES).equals(TopologyScanner.DEVICES);
    } catch (GpuvirtException e) {
      canonical = false; // every device goes the long way, and fails there as it did
    }
    this.devicesCanonical = canonical;
    if (canonical) {
      for (String dir = TopologyScanner.DEVICES; !dir.isEmpty();
          dir = dir.substring(0, dir.lastIndexOf('/'))) {
        canonicalDirs.put(dir, true);
      }
    }
  }

  /**
   * The canonical host path of the device entry {@code /sys/bus/pci/devices/BDF} of {@code device},
   * as {@link Sysfs#canonicalPath} gives it.
   *
   * @param listed whether the entry was just listed as a directory: then the link's target, once
   *     its own directory is known to hold no link on the way and it is not a link itself, is that
   *     directory, and it needs no look of its own to tell it is one
   */
  String canonicalDevicePath(PciAddress device, boolean listed) {
    String entry = device.sysfsPath();
    if (devicesCanonical) {
      Optional<String> target = devices.readLink(device.toString());
      if (target.isPresent()) {
        Optional<String> path = resolve(TopologyScanner.DEVICES, target.get());
        if (path.isPresent() && isCanonicalDirectory(path.get(), listed)) {
          return path.get();
        }
      }
    }
    return sysfs.canonicalPath(entry);
  }

  /**
   * Learns from the open view of the canonical device directory {@code dir}, listed as
   * {@code names}, which of its entries named like PCI functions (the devices below a bridge)
   * are no link, as the view's {@link Sysfs.Directory#readLink} says: the C library's view
   * answers that from the listing's entry types, without a call, so each device below is checked
   * without a {@code readlink} of its own.
   */
  void learnBelow(String dir, Sysfs.Directory view, List<String> names) {
    for (String name : names) {
      if (name.indexOf(':') > 0) {
        String path = dir + "/" + name;
        if (!canonicalDirs.containsKey(path) && view.readLink(name).isEmpty()) {
          notLinks.add(path);
        }
      }
    }
  }

  /**
   * The driver a {@code driver} link in the canonical device directory {@code deviceDir} with
   * this target leads to, when it resolves to a directory {@code /sys/bus/pci/drivers/NAME}; empty
   * when it does not, or when that cannot be told without the long way.
   */
  Optional<String> driverName(String deviceDir, String target) {
    Optional<String> path = resolve(deviceDir, target);
    return path.isEmpty() ? Optional.empty()
        : drivers.computeIfAbsent(path.get(), this::driverAt);
  }

  private Optional<String> driverAt(String path) {
    String prefix = TopologyScanner.DRIVERS + "/";
    if (!sysfs.isDirectory(path)) {
      return Optional.empty();
    }
    String canonical;
    try {
      canonical = sysfs.canonicalPath(path);
    } catch (GpuvirtException e) {
      return Optional.empty();
    }
    String name = canonical.startsWith(prefix) ? canonical.substring(prefix.length()) : "";
    return name.isEmpty() || name.contains("/") ? Optional.empty() : Optional.of(name);
  }

  /** Whether {@code dir} is a directory whose canonical path is itself; each path checked once. */
  private boolean isCanonicalDirectory(String dir) {
    return isCanonicalDirectory(dir, false);
  }

  /**
   * Whether {@code dir} is a directory whose canonical path is itself, each path checked once.
   * With {@code listedAsDirectory} (the target of a device link that was listed as a directory)
   * its own stat is skipped: when no directory above it is a link and it is not one, the link
   * resolves to it, so it is the directory that was listed.
   */
  private boolean isCanonicalDirectory(String dir, boolean listedAsDirectory) {
    Boolean known = canonicalDirs.get(dir);
    if (known != null) {
      return known;
    }
    int slash = dir.lastIndexOf('/');
    boolean canonical = slash > 0 && isCanonicalDirectory(dir.substring(0, slash))
        && (notLinks.contains(dir) || sysfs.readLink(dir).isEmpty())
        && (listedAsDirectory || sysfs.isDirectory(dir));
    canonicalDirs.put(dir, canonical);
    return canonical;
  }

  /**
   * {@code target} (a relative link target) resolved against the canonical directory {@code base}:
   * its leading {@code ..} segments climb {@code base}, which is exact because {@code base} holds
   * no link; the rest is appended. Empty for what this cannot resolve exactly: an absolute target,
   * a {@code .}, {@code ..} or empty segment after a name, climbing above the root, or a character
   * a host path may not hold.
   */
  static Optional<String> resolve(String base, String target) {
    if (target.isEmpty() || target.charAt(0) == '/') {
      return Optional.empty();
    }
    int end = base.length();
    int at = 0;
    while (target.startsWith("../", at)) {
      end = base.lastIndexOf('/', end - 1);
      if (end <= 0) {
        return Optional.empty();
      }
      at += 3;
    }
    String rest = target.substring(at);
    for (int i = 0; i < rest.length(); i++) {
      char c = rest.charAt(i);
      if (c == '\0' || c == '\n' || c == '\r' || c == '\\') {
        return Optional.empty();
      }
    }
    if (rest.isEmpty() || rest.endsWith("/") || rest.startsWith("/") || rest.contains("//")
        || rest.equals(".") || rest.equals("..") || rest.startsWith("./")
        || rest.startsWith("../") || rest.endsWith("/.") || rest.endsWith("/..")
        || rest.contains("/./") || rest.contains("/../")) {
      return Optional.empty();
    }
    return Optional.of(base.substring(0, end) + "/" + rest);
  }
}
