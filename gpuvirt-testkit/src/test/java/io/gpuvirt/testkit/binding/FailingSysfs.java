package io.gpuvirt.testkit.binding;

import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A {@link Sysfs} that fails chosen writes with EIO before they reach the host, for faults the
 * simulated kernel cannot target by itself: the write of one device's address to
 * {@code drivers_probe}, or a write of one particular value to {@code driver_override}. Each
 * scripted failure fires once.
 */
final class FailingSysfs implements Sysfs {
  private record Failure(String path, String value) {}

  private final Sysfs host;
  private final List<Failure> failures = new ArrayList<>();

  FailingSysfs(Sysfs host) {
    this.host = host;
  }

  /** The next write of exactly {@code value} to {@code path} fails with EIO and changes nothing. */
  FailingSysfs failWrite(String path, String value) {
    failures.add(new Failure(path, value));
    return this;
  }

  /** Drops the scripted failures that have not fired. */
  void clear() {
    failures.clear();
  }

  @Override
  public void write(String path, String value) {
    if (failures.remove(new Failure(path, value))) {
      throw new HostAccessException(path, "writing '" + value.strip() + "' to " + path
          + " failed: Input/output error (scripted)", new IOException("Input/output error"));
    }
    host.write(path, value);
  }

  @Override
  public Path root() {
    return host.root();
  }

  @Override
  public boolean exists(String path) {
    return host.exists(path);
  }

  @Override
  public boolean isDirectory(String path) {
    return host.isDirectory(path);
  }

  @Override
  public String read(String path) {
    return host.read(path);
  }

  @Override
  public byte[] readBytes(String path) {
    return host.readBytes(path);
  }

  @Override
  public List<String> list(String directory) {
    return host.list(directory);
  }

  @Override
  public Optional<String> readLink(String path) {
    return host.readLink(path);
  }

  @Override
  public String canonicalPath(String path) {
    return host.canonicalPath(path);
  }
}
