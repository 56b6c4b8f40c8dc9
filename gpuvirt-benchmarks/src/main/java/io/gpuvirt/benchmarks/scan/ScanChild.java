package io.gpuvirt.benchmarks.scan;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.TopologyScanner;
import java.nio.file.Path;

/**
 * The child JVM that {@link Syscalls} runs under {@code strace}: {@code ScanChild ROOT N [W]} scans
 * the host at {@code ROOT} {@code W} times to warm up (default 1), then {@code N} times more.
 */
public final class ScanChild {
  private ScanChild() {}

  /** {@code ROOT N [W]}. */
  public static void main(String[] args) {
    Sysfs sysfs = Sysfs.at(Path.of(args[0]));
    int scans = Integer.parseInt(args[1]);
    int warmUp = args.length > 2 ? Integer.parseInt(args[2]) : 1;
    for (int i = 0; i < warmUp; i++) {
      TopologyScanner.scan(sysfs);
    }
    for (int i = 0; i < scans; i++) {
      TopologyScanner.scan(sysfs);
    }
  }
}
