package io.gpuvirt.core.ledger;

import java.util.List;

/**
 * What {@code reconcile} found and repaired.
 *
 * @param discrepancies every difference found, repaired or not
 */
public record ReconcileReport(List<Discrepancy> discrepancies) {
  public ReconcileReport {
    discrepancies = List.copyOf(discrepancies);
  }

  /** The differences left as they were. */
  public List<Discrepancy> unresolved() {
    return discrepancies.stream().filter(d -> !d.repaired()).toList();
  }

  /** Whether the ledger and the host agree now (every difference found was repaired). */
  public boolean consistent() {
    return unresolved().isEmpty();
  }
}
