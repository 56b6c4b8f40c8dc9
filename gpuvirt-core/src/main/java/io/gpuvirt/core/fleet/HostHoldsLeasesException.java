package io.gpuvirt.core.fleet;

/**
 * A host cannot leave the fleet while leases are on it ({@link Fleet#remove}): the message names
 * their owners. Release them and let the host's agent tear them down first.
 */
public final class HostHoldsLeasesException extends FleetException {
  private static final long serialVersionUID = 1L;

  public HostHoldsLeasesException(String message) {
    super(message);
  }
}
