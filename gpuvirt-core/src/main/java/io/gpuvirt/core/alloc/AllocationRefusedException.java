package io.gpuvirt.core.alloc;

import io.gpuvirt.core.GpuvirtException;

/**
 * A request cannot be granted on this host as it is now: not enough free whole groups, no free
 * partition of the size, or the owner already holds a different lease. The message says what is
 * free, what was excluded and why, and what would make the request possible. Nothing was changed.
 */
public final class AllocationRefusedException extends GpuvirtException {
  private static final long serialVersionUID = 1L;
  private final String owner;

  public AllocationRefusedException(String owner, String message) {
    super(message);
    this.owner = owner;
  }

  /** The owner the request was for. */
  public String owner() {
    return owner;
  }
}
