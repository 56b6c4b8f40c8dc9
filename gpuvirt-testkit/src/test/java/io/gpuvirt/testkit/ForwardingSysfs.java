package io.gpuvirt.testkit;

import io.gpuvirt.core.host.Sysfs;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A {@link Sysfs} that passes every call to another one; tests override the calls they intercept
 * (usually {@link #write}).
 */
public abstract class ForwardingSysfs implements Sysfs {
  private final Sysfs host;

  protected ForwardingSysfs(Sysfs host) {
    this.host = host;
  }

  /** The sysfs calls are passed to. */
  protected final Sysfs host() {
    return host;
  }

  @Override
  public void write(String path, String value) {
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
