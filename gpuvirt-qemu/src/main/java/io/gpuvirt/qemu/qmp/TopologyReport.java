package io.gpuvirt.qemu.qmp;

import java.util.List;

/**
 * What {@link PassthroughTopologyCheck} found: one line per root port and device that is where
 * the command put it, and one line per problem.
 *
 * @param confirmed what is as planned, {@code hostdev0 (host 0000:17:00.0) at 01:00.0 behind rp0
 *     (00:10.0)}
 * @param problems what is not, each naming the device and what the guest sees instead
 */
public record TopologyReport(List<String> confirmed, List<String> problems) {
  public TopologyReport {
    confirmed = List.copyOf(confirmed);
    problems = List.copyOf(problems);
  }

  /** Whether there are no problems. */
  public boolean ok() {
    return problems.isEmpty();
  }

  @Override
  public String toString() {
    return ok() ? "topology ok: " + String.join("; ", confirmed)
        : "topology problems: " + String.join("; ", problems);
  }
}
