package io.gpuvirt.core.fleet;

/**
 * A host agent presented a lease epoch that is no longer the lease's on that host: the lease was
 * released, or moved to another host, since the agent learned of it (the agent was partitioned
 * away and came back). The agent must not act on the lease: it re-reads its assignments.
 */
public final class StaleEpochException extends FleetException {
  private static final long serialVersionUID = 1L;

  public StaleEpochException(String message) {
    super(message);
  }
}
