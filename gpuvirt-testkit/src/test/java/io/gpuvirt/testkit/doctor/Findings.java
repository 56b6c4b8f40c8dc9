package io.gpuvirt.testkit.doctor;

import io.gpuvirt.core.doctor.Finding;
import io.gpuvirt.core.doctor.Fix;
import io.gpuvirt.core.doctor.ReadinessReport;

/** Looking up one check's finding (and its fix) in a doctor's report, failing with the report. */
public final class Findings {
  private Findings() {}

  /** The finding of {@code check}; an assertion error showing the report when there is none. */
  public static Finding finding(ReadinessReport report, String check) {
    return report.findings().stream().filter(f -> f.check().equals(check)).findFirst()
        .orElseThrow(() -> new AssertionError("no finding " + check + " in\n" + report.render()));
  }

  /** The fix of {@code check}'s finding; an assertion error showing the report when none. */
  public static Fix fix(ReadinessReport report, String check) {
    return finding(report, check).fix()
        .orElseThrow(() -> new AssertionError("no fix for " + check + " in\n" + report.render()));
  }
}
