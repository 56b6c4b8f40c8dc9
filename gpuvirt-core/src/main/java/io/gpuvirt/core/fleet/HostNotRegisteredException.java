package io.gpuvirt.core.fleet;

/**
 * A host that has not published an inventory tried to act in the fleet (a heartbeat, an agent
 * round). Publish the host first ({@link Fleet#publish}, {@code gpuvirt fleet register}); this is
 * not a transient failure and is never retried.
 */
public final class HostNotRegisteredException extends FleetException {
  private static final long serialVersionUID = 1L;

  public HostNotRegisteredException(String message) {
    super(message);
  }
}
