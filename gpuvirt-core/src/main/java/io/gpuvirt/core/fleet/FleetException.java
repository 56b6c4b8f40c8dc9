package io.gpuvirt.core.fleet;

import io.gpuvirt.core.GpuvirtException;
import java.sql.SQLException;
import java.util.Optional;

/**
 * The fleet database could not be reached or refused a statement, after the retries a transient
 * failure gets. The message names the operation, the host or owner, and the fix; the
 * {@link SQLException} is kept as the cause. Nothing of the failed transaction is stored.
 */
public class FleetException extends GpuvirtException {
  private static final long serialVersionUID = 1L;

  public FleetException(String message) {
    super(message);
  }

  public FleetException(String message, Throwable cause) {
    super(message, cause);
  }

  /** The SQLSTATE of the database error behind this, when there is one. */
  public Optional<String> sqlState() {
    return getCause() instanceof SQLException e ? Optional.ofNullable(e.getSQLState())
        : Optional.empty();
  }
}
