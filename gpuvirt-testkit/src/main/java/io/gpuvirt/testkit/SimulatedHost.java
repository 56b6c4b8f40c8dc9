package io.gpuvirt.testkit;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.Topology;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * A simulated Linux host: a directory that holds {@code sys/}, {@code proc/cmdline},
 * {@code etc/} and {@code usr/share/nvidia/nvswitch/fabricmanager.cfg} the way the real host has
 * them, so that gpuvirt (through {@link #sysfs()}) and {@code lspci} itself
 * ({@code lspci -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci}) can read it, plus a kernel model
 * that reacts to writes the way Linux does.
 *
 * <pre>{@code
 * try (SimulatedHost host = SimulatedHost.hgxB200()) {
 *   Sysfs sysfs = host.sysfs();
 *   sysfs.write("/sys/bus/pci/devices/0000:17:00.0/driver_override", "vfio-pci");
 *   sysfs.write("/sys/bus/pci/devices/0000:17:00.0/driver/unbind", "0000:17:00.0");
 *   sysfs.write("/sys/bus/pci/drivers_probe", "0000:17:00.0");
 *   // /sys/bus/pci/devices/0000:17:00.0/driver now links to .../drivers/vfio-pci
 * }
 * }</pre>
 *
 * <p>The state lives in the tree (driver links, overrides, VFs, and {@code .gpuvirt-state.json}
 * for faults), so another process can {@link #open(Path)} the same directory and see and change
 * the same host; changes are serialised with a file lock in the root.
 *
 * <p>Hosts created in a temporary directory are deleted by {@link #close()}; hosts written into a
 * directory the caller gave, or opened, are kept.
 */
public final class SimulatedHost implements Closeable {
  private final Path root;
  private final HostProfile profile;
  private final boolean deleteOnClose;
  private final KernelModel kernel;
  private final SimulatedSysfs sysfs;
  private volatile boolean closed;

  private SimulatedHost(Path root, HostProfile profile, boolean deleteOnClose) {
    this.root = root;
    this.profile = profile;
    this.deleteOnClose = deleteOnClose;
    this.kernel = new KernelModel(profile, HostTree.of(root, profile));
    this.sysfs = new SimulatedSysfs(root, kernel);
  }

  /** An HGX B200 host ({@link HostProfile#hgxB200()}) in a temporary directory. */
  public static SimulatedHost hgxB200() {
    return create(HostProfile.hgxB200());
  }

  /** An HGX H100 host ({@link HostProfile#hgxH100()}) in a temporary directory. */
  public static SimulatedHost hgxH100() {
    return create(HostProfile.hgxH100());
  }

  /** A workstation ({@link HostProfile#workstation()}) in a temporary directory. */
  public static SimulatedHost workstation() {
    return create(HostProfile.workstation());
  }

  /** A host without ACS ({@link HostProfile#noAcs()}) in a temporary directory. */
  public static SimulatedHost noAcs() {
    return create(HostProfile.noAcs());
  }

  /** A host with the IOMMU off ({@link HostProfile#iommuOff()}) in a temporary directory. */
  public static SimulatedHost iommuOff() {
    return create(HostProfile.iommuOff());
  }

  /** A PCIe vGPU host with two L40S ({@link HostProfile#l40sVgpu()}) in a temporary directory. */
  public static SimulatedHost l40sVgpu() {
    return create(HostProfile.l40sVgpu());
  }

  /**
   * An older vGPU host with two Tesla T4 on legacy mdev ({@link HostProfile#t4Mdev()}) in a
   * temporary directory.
   */
  public static SimulatedHost t4Mdev() {
    return create(HostProfile.t4Mdev());
  }

  /**
   * The system property naming the directory temporary hosts are created in (default
   * {@code java.io.tmpdir}). A RAM file system such as {@code /dev/shm} makes hosts several times
   * faster to write; the testkit's own build uses it where it exists.
   */
  public static final String TEMP_DIR_PROPERTY = "gpuvirt.testkit.dir";

  /**
   * A host of this profile in a new temporary directory (under {@value #TEMP_DIR_PROPERTY} if
   * set), deleted by {@link #close()}.
   */
  public static SimulatedHost create(HostProfile profile) {
    Objects.requireNonNull(profile, "profile");
    Path dir;
    try {
      String base = System.getProperty(TEMP_DIR_PROPERTY, "");
      dir = (base.isEmpty() ? Files.createTempDirectory("gpuvirt-" + profile.name() + "-")
          : Files.createTempDirectory(Files.createDirectories(Path.of(base)),
              "gpuvirt-" + profile.name() + "-")).toRealPath();
    } catch (IOException e) {
      throw new GpuvirtException("cannot create a temporary directory for simulated host "
          + profile.name() + ": " + e.getMessage() + "; check java.io.tmpdir", e);
    }
    try {
      return write(profile, dir, true);
    } catch (RuntimeException e) {
      deleteQuietly(dir);
      throw e;
    }
  }

  /**
   * Writes a host of this profile into {@code dir} (created if missing, else it must be empty) and
   * keeps it there after {@link #close()}.
   *
   * @throws GpuvirtException if the directory is not empty or cannot be written
   */
  public static SimulatedHost create(HostProfile profile, Path dir) {
    Objects.requireNonNull(profile, "profile");
    Objects.requireNonNull(dir, "dir");
    Path real;
    try {
      Files.createDirectories(dir);
      real = dir.toRealPath();
      try (DirectoryStream<Path> s = Files.newDirectoryStream(real)) {
        if (s.iterator().hasNext()) {
          throw new GpuvirtException("cannot write simulated host " + profile.name() + " into "
              + dir + ": the directory is not empty; give an empty or new directory");
        }
      }
    } catch (IOException e) {
      throw new GpuvirtException("cannot write simulated host " + profile.name() + " into " + dir
          + ": " + e + "; give a writable directory", e);
    }
    return write(profile, real, false);
  }

  /**
   * Opens a host written before (by this or another process) with {@link #create(HostProfile,
   * Path)}; it sees the tree as it is now. Closing it keeps the directory.
   *
   * @throws GpuvirtException if the directory holds no simulated host
   */
  public static SimulatedHost open(Path dir) {
    Objects.requireNonNull(dir, "dir");
    Path file = dir.resolve(HostTree.PROFILE_FILE);
    if (!Files.isRegularFile(file)) {
      throw new GpuvirtException("no simulated host in " + dir + ": " + HostTree.PROFILE_FILE
          + " is missing; write one with SimulatedHost.create(profile, dir) or 'gpuvirt simulate'");
    }
    try {
      HostProfile profile = ProfileJson.read(Files.readString(file), file.toString());
      return new SimulatedHost(dir.toRealPath(), profile, false);
    } catch (IOException e) {
      throw new GpuvirtException("cannot open simulated host in " + dir + ": " + e, e);
    } catch (IllegalArgumentException | InvalidValueException e) {
      throw new GpuvirtException(e.getMessage(), e);
    }
  }

  /**
   * Whether {@code dir} holds a simulated host (written by {@link #create(HostProfile, Path)} or
   * {@code gpuvirt simulate}) that {@link #open(Path)} can open.
   */
  public static boolean isSimulatedHost(Path dir) {
    return Files.isRegularFile(Objects.requireNonNull(dir, "dir").resolve(HostTree.PROFILE_FILE));
  }

  private static SimulatedHost write(HostProfile profile, Path dir, boolean deleteOnClose) {
    SimulatedHost host = new SimulatedHost(dir, profile, deleteOnClose);
    try {
      TreeLock.with(dir, () -> {
        new TreeWriter(profile, HostTree.of(dir, profile)).writeAll();
        return null;
      });
    } catch (IOException e) {
      throw new GpuvirtException("cannot write simulated host " + profile.name() + " into " + dir
          + ": " + e + "; check free space and permissions", e);
    }
    return host;
  }

  /** The host root: the directory that holds {@code sys/}, {@code proc/}, {@code etc/}. */
  public Path root() {
    return root;
  }

  /** The host seam for this host: reads the tree, and writes go through the kernel model. */
  public Sysfs sysfs() {
    return sysfs;
  }

  /** The profile the host was written from. */
  public HostProfile profile() {
    return profile;
  }

  /**
   * The topology the profile implies at boot: what {@code TopologyScanner.scan(sysfs())} returns
   * for a freshly written host (devices bound to their default drivers where those are loaded,
   * no overrides, VFs enabled at boot included).
   */
  public Topology expectedTopology() {
    return ExpectedTopology.of(profile, "simulated host " + profile.name() + " at " + root);
  }

  /** Installs a fault; it fires on the next matching operation (see {@link Fault}). */
  public void inject(Fault fault) {
    Objects.requireNonNull(fault, "fault");
    changeState("injecting " + fault, s -> s.faults.add(fault));
  }

  /** The faults still pending, in the order they were injected. */
  public List<Fault> faults() {
    try {
      return List.copyOf(HostState.load(root).faults);
    } catch (IOException e) {
      throw new GpuvirtException("cannot read the faults of simulated host " + root + ": " + e, e);
    }
  }

  /** Removes every pending fault. */
  public void clearFaults() {
    changeState("clearing faults", s -> s.faults.clear());
  }

  /** How many function resets ({@code reset} writes of 1) the device has seen, in any process. */
  public int resetCount(PciAddress device) {
    try {
      return HostState.load(root).resets.getOrDefault(device, 0);
    } catch (IOException e) {
      throw new GpuvirtException("cannot read the state of simulated host " + root + ": " + e, e);
    }
  }

  /** The kernel model, for the testkit's fake NVIDIA programs. */
  KernelModel kernel() {
    return kernel;
  }

  /** How many writes this host's {@link #sysfs()} has received (failed ones included). */
  public long writeCount() {
    return kernel.writeCount();
  }

  private void changeState(String what, java.util.function.Consumer<HostState> change) {
    try {
      TreeLock.with(root, () -> {
        HostState s = HostState.load(root);
        change.accept(s);
        s.changed();
        s.saveIfChanged(root);
        return null;
      });
    } catch (IOException e) {
      throw new GpuvirtException(what + " on simulated host " + root + " failed: " + e, e);
    }
  }

  /** Deletes the tree if this host created it in a temporary directory; else keeps it. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (deleteOnClose) {
      deleteQuietly(root);
    }
  }

  private static void deleteQuietly(Path dir) {
    try {
      HostTree.deleteTree(dir);
    } catch (IOException e) {
      // Best effort for a temporary directory; the OS cleans it up eventually.
    }
  }

  @Override
  public String toString() {
    return "SimulatedHost[" + profile.name() + " at " + root + "]";
  }
}
