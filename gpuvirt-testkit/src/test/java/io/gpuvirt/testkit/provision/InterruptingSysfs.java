package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.testkit.ForwardingSysfs;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link Sysfs} that passes everything to the host's, but runs an action just before the n-th
 * write: blocking there so that a parent process can kill this one between two writes, or
 * throwing a {@link Crash} that unwinds the whole call the way a crash would (no catch block in
 * product code handles an {@link Error}).
 */
final class InterruptingSysfs extends ForwardingSysfs {
  /** Stands in for the process dying: not a GpuvirtException, so nothing rolls back. */
  static final class Crash extends Error {
    private static final long serialVersionUID = 1L;

    Crash(String message) {
      super(message);
    }
  }

  private final int interruptAt;
  private final Runnable action;
  private final AtomicInteger writes = new AtomicInteger();

  /** Runs {@code action} before write number {@code interruptAt} (1-based). */
  InterruptingSysfs(Sysfs host, int interruptAt, Runnable action) {
    super(host);
    this.interruptAt = interruptAt;
    this.action = action;
  }

  /** Throws a {@link Crash} before write number {@code n}. */
  static InterruptingSysfs crashingAt(Sysfs host, int n) {
    return new InterruptingSysfs(host, n, () -> {
      throw new Crash("simulated crash before sysfs write " + n);
    });
  }

  /** How many writes were passed on. */
  int writes() {
    return writes.get();
  }

  @Override
  public void write(String path, String value) {
    if (writes.get() + 1 == interruptAt) {
      action.run();
    }
    super.write(path, value);
    writes.incrementAndGet();
  }
}
