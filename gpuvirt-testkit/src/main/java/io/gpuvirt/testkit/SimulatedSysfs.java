package io.gpuvirt.testkit;

import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.HostPaths;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@link Sysfs} of a simulated host: reads come from the tree (write-only attributes refuse to
 * be read, as in sysfs), writes go to the {@link KernelModel}. Failures are
 * {@link HostAccessException}s with the path and the kernel's errno text, as on a real host.
 */
final class SimulatedSysfs implements Sysfs {
  private final Path root;
  private final Sysfs files;
  private final KernelModel kernel;
  private volatile Object seenStateKey;
  private volatile boolean readFaultsPending;

  SimulatedSysfs(Path root, KernelModel kernel) {
    this.root = root;
    this.files = Sysfs.at(root);
    this.kernel = kernel;
  }

  @Override
  public Path root() {
    return root;
  }

  @Override
  public boolean exists(String path) {
    return files.exists(path);
  }

  @Override
  public boolean isDirectory(String path) {
    return files.isDirectory(path);
  }

  @Override
  public String read(String path) {
    checkReadable(path);
    if (path.endsWith("/nvidia/creatable_vgpu_types")) {
      refreshCreatable(path);
    }
    return files.read(path);
  }

  /** A VF's creatable list is computed when read (as the driver's show function does). */
  private void refreshCreatable(String path) {
    String[] seg = path.split("/");
    if (seg.length < 3) {
      return;
    }
    PciAddress vf;
    try {
      vf = PciAddress.parse(seg[seg.length - 3]);
    } catch (io.gpuvirt.core.GpuvirtException notADevice) {
      return;
    }
    try {
      kernel.refreshCreatableVgpuTypes(vf);
    } catch (IOException e) {
      throw failure("reading", path, e);
    }
  }

  @Override
  public byte[] readBytes(String path) {
    checkReadable(path);
    return files.readBytes(path);
  }

  @Override
  public List<String> list(String directory) {
    return files.list(directory);
  }

  @Override
  public Optional<String> readLink(String path) {
    return files.readLink(path);
  }

  @Override
  public String canonicalPath(String path) {
    return files.canonicalPath(path);
  }

  @Override
  public void write(String path, String value) {
    HostPaths.check(path);
    Objects.requireNonNull(value, "value");
    try {
      kernel.write(path, value);
    } catch (IOException e) {
      throw failure("writing '" + value.strip() + "' to", path, e);
    }
  }

  private void checkReadable(String path) {
    HostPaths.check(path);
    String name = path.substring(path.lastIndexOf('/') + 1);
    if (path.startsWith("/sys/") && HostTree.WRITE_ONLY.contains(name) && files.exists(path)) {
      throw failure("reading", path, new KernelModel.KernelError(path, KernelModel.Errno.EACCES));
    }
    if (readFaultFires(path)) {
      throw failure("reading", path, new KernelModel.KernelError(path, KernelModel.Errno.EIO));
    }
  }

  /** Fires a pending read fault for this path; cheap when none is pending. */
  private boolean readFaultFires(String path) {
    try {
      Path stateFile = root.resolve(HostTree.STATE_FILE);
      if (!Files.exists(stateFile)) {
        return false;
      }
      Object key = Files.readAttributes(stateFile, BasicFileAttributes.class).fileKey();
      if (key == null || !key.equals(seenStateKey)) {
        HostState s = HostState.load(root);
        readFaultsPending = s.faults.stream().anyMatch(f -> f.kind() == Fault.Kind.READ_FAILS);
        seenStateKey = key;
      }
      if (!readFaultsPending) {
        return false;
      }
      String canonical = files.exists(path) ? files.canonicalPath(path) : path;
      return TreeLock.with(root, () -> {
        HostState s = HostState.load(root);
        boolean fired = s.fire(Fault.Kind.READ_FAILS, path)
            || !canonical.equals(path) && s.fire(Fault.Kind.READ_FAILS, canonical);
        s.saveIfChanged(root);
        return fired;
      });
    } catch (NoSuchFileException e) {
      return false;
    } catch (IOException e) {
      throw failure("reading the simulated kernel state for", path, e);
    }
  }

  private HostAccessException failure(String action, String path, IOException e) {
    String reason;
    if (e instanceof NoSuchFileException) {
      reason = "no such file or directory";
    } else if (e instanceof FileSystemException && ((FileSystemException) e).getReason() != null) {
      reason = ((FileSystemException) e).getReason();
    } else {
      reason = String.valueOf(e.getMessage());
    }
    return new HostAccessException(path, action + " " + path + " failed: " + reason
        + " (host root " + root + ")", e);
  }
}
