package io.gpuvirt.core.doctor;

import java.util.List;

/**
 * Every finding of a readiness examination.
 *
 * @param host where the host was read from
 * @param findings the findings in check order
 */
public record ReadinessReport(String host, List<Finding> findings) {
  public ReadinessReport {
    findings = List.copyOf(findings);
  }

  /** This report with {@code more} findings appended (checks made outside core, say). */
  public ReadinessReport plus(List<Finding> more) {
    List<Finding> all = new java.util.ArrayList<>(findings);
    all.addAll(more);
    return new ReadinessReport(host, all);
  }

  /** Ready when no finding is an {@link Severity#ERROR}. */
  public boolean ready() {
    return findings.stream().noneMatch(f -> f.severity() == Severity.ERROR);
  }

  /** The findings of one severity. */
  public List<Finding> bySeverity(Severity severity) {
    return findings.stream().filter(f -> f.severity() == severity).toList();
  }

  /** A text rendering: one block per finding, fixes indented. */
  public String render() {
    StringBuilder sb = new StringBuilder();
    sb.append("host ").append(host).append(": ").append(ready() ? "READY" : "NOT READY")
        .append('\n');
    for (Finding f : findings) {
      sb.append(String.format("[%-7s] %-22s %s%n", f.severity(), f.check(), f.summary()));
      f.evidence().forEach(e -> sb.append("            evidence: ").append(e).append('\n'));
      f.fix().ifPresent(x -> x.render().lines()
          .forEach(l -> sb.append("            fix: ").append(l).append('\n')));
    }
    return sb.toString();
  }
}
