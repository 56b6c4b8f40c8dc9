package io.gpuvirt.core.fleet;

import io.gpuvirt.core.InvalidValueException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.regex.Pattern;

/** Host names as the schema's CHECK allows them, and the host's row. */
final class HostNames {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");

  private HostNames() {}

  static String check(String host) {
    if (host == null || !NAME.matcher(host).matches()) {
      throw new InvalidValueException("invalid host name '"
          + io.gpuvirt.core.internal.Printable.shown(host) + "': use 1 to 253 letters, "
          + "digits, '.', '_' or '-', starting with a letter or digit (the host's DNS name, say)");
    }
    return host;
  }

  /** The host's id, adding its row when there is none. */
  static long ensureHost(Connection c, String host) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(
        "INSERT INTO gpuvirt_host (name) VALUES (?) ON CONFLICT (name) DO NOTHING")) {
      s.setString(1, host);
      s.executeUpdate();
    }
    try (PreparedStatement s = c.prepareStatement(
        "SELECT host_id FROM gpuvirt_host WHERE name = ?")) {
      s.setString(1, host);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getLong(1);
      }
    }
  }
}
