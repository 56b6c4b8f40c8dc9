package io.gpuvirt.testkit.binding;

import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.testkit.ForwardingSysfs;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link Sysfs} that fails chosen writes with EIO before they reach the host, for faults the
 * simulated kernel cannot target by itself: the write of one device's address to
 * {@code drivers_probe}, or a write of one particular value to {@code driver_override}. Each
 * scripted failure fires once.
 */
final class FailingSysfs extends ForwardingSysfs {
  private record Failure(String path, String value) {}

  private final List<Failure> failures = new ArrayList<>();

  FailingSysfs(Sysfs host) {
    super(host);
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
    super.write(path, value);
  }
}
