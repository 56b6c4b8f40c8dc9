package io.gpuvirt.core.provision;

import java.util.List;

/**
 * What {@link Provisioner#recover()} did.
 *
 * @param actions one line per lease it finished or undid (empty when nothing was interrupted)
 * @param failures one line per lease it could not recover, with the reason
 */
public record RecoveryReport(List<String> actions, List<String> failures) {
  public RecoveryReport {
    actions = List.copyOf(actions);
    failures = List.copyOf(failures);
  }

  /** Whether every interrupted operation was recovered. */
  public boolean clean() {
    return failures.isEmpty();
  }
}
