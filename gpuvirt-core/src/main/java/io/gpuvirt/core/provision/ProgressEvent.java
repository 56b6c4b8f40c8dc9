package io.gpuvirt.core.provision;

import io.gpuvirt.core.pci.PciAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * One step of provisioning or teardown starting, finishing or failing.
 *
 * @param owner the lease owner
 * @param step the step
 * @param kind started, finished or failed
 * @param device the device the step concerns, when it concerns one
 * @param detail what was done or what went wrong
 * @param elapsed time since the step started (zero for {@link Kind#STARTED})
 */
public record ProgressEvent(String owner, ProvisionStep step, Kind kind,
    Optional<PciAddress> device, String detail, Duration elapsed) {

  /** The kinds of event. */
  public enum Kind {
    STARTED,
    FINISHED,
    FAILED
  }

  public ProgressEvent {
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(step, "step");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(device, "device");
    Objects.requireNonNull(detail, "detail");
    Objects.requireNonNull(elapsed, "elapsed");
  }

  /** One line for logs and the CLI. */
  @Override
  public String toString() {
    return String.format("%-8s %-20s %s%s%s", kind, step,
        device.map(d -> d + " ").orElse(""), detail,
        kind == Kind.STARTED ? "" : " (" + elapsed.toMillis() + " ms)");
  }
}
