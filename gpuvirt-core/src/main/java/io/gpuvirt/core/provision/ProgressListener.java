package io.gpuvirt.core.provision;

/**
 * Receives progress events from a {@link Provisioner}, on the thread doing the work. A listener
 * must not throw; if it does, the exception is logged and ignored.
 */
@FunctionalInterface
public interface ProgressListener {
  /** A listener that ignores every event. */
  ProgressListener NONE = event -> { };

  /** Called for every step started, finished and failed. */
  void onEvent(ProgressEvent event);
}
