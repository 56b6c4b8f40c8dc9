package io.gpuvirt.benchmarks.scan;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.TopologyScanner;
import java.nio.file.Path;

/**
 * The child JVM that {@link Syscalls} runs under {@code strace}: {@code ScanChild ROOT N} scans the
 * host at {@code ROOT} once to warm up, then {@code N} times more.
 */
public final class ScanChild {
  private ScanChild() {}

  /** {@code ROOT N}. */
  public static void main(String[] args) {
    Sysfs sysfs = Sysfs.at(Path.of(args[0]));
    int scans = Integer.parseInt(args[1]);
    TopologyScanner.scan(sysfs);
    for (int i = 0; i < scans; i++) {
      TopologyScanner.scan(sysfs);
    }
  }
}
