package io.gpuvirt.testkit.provision;

import io.gpuvirt.core.provision.ProgressEvent;
import io.gpuvirt.core.provision.ProgressListener;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * A progress listener that injects a {@link StepFault} the first time its step starts, lifts it
 * when that step ends (so a ledger fault lasts exactly one step), and records every event.
 */
final class FaultAtStep implements ProgressListener {
  private final SimulatedSite site;
  private final StepFault fault;
  private final RandomGenerator random;
  private final List<ProgressEvent> events = new ArrayList<>();
  private boolean started;
  private Optional<Runnable> lift = Optional.empty();
  private RuntimeException injectionFailure;

  FaultAtStep(SimulatedSite site, StepFault fault, RandomGenerator random) {
    this.site = site;
    this.fault = fault;
    this.random = random;
  }

  @Override
  public void onEvent(ProgressEvent event) {
    events.add(event);
    if (event.step() != fault.step()) {
      return;
    }
    try {
      if (!started && event.kind() == ProgressEvent.Kind.STARTED) {
        started = true;
        lift = fault.injection().inject(new StepFault.Target(site, event,
            site.ledger().lease(event.owner()), random));
      } else if (event.kind() != ProgressEvent.Kind.STARTED && lift.isPresent()) {
        lift.get().run();
        lift = Optional.of(() -> { });
      }
    } catch (RuntimeException e) {
      injectionFailure = e;
    }
  }

  /** Lifts the fault if the step did not fail (a ledger fault must not outlive its run). */
  void liftIfPending() {
    lift.ifPresent(Runnable::run);
    lift = lift.map(l -> () -> { });
  }

  /** Whether the step started and the fault applied to it. */
  boolean injected() {
    if (injectionFailure != null) {
      throw new AssertionError("injecting " + fault + " failed", injectionFailure);
    }
    return lift.isPresent();
  }

  List<ProgressEvent> events() {
    return List.copyOf(events);
  }
}
