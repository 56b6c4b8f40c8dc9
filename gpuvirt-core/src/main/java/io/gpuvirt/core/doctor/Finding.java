package io.gpuvirt.core.doctor;

import java.util.List;
import java.util.Optional;

/**
 * One readiness check's result.
 *
 * @param check a stable id, such as {@code iommu.enabled}
 * @param severity how much it matters
 * @param summary one line for the operator
 * @param evidence what was read that led to it (file contents, driver links)
 * @param fix the exact fix, when something needs fixing
 */
public record Finding(String check, Severity severity, String summary, List<String> evidence,
    Optional<Fix> fix) {
  public Finding {
    evidence = List.copyOf(evidence);
  }
}
