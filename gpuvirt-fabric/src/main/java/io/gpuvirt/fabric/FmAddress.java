package io.gpuvirt.fabric;

import io.gpuvirt.core.InvalidValueException;
import java.util.Locale;

/**
 * Where Fabric Manager's API listens: a TCP address ({@code 127.0.0.1}, port 6666 unless given as
 * {@code 10.0.0.5:7000}) or a Unix socket path. This is the {@code addressInfo} of libnvfm's connect
 * parameters and what {@code fmpm --hostname} / {@code --unix-domain-socket} take.
 *
 * @param kind TCP or a Unix socket
 * @param value the host (with an optional {@code :port}) or the socket path
 */
public record FmAddress(Kind kind, String value) {
  /** Fabric Manager's default API port ({@code FM_CMD_PORT_NUMBER}). */
  public static final int DEFAULT_PORT = 6666;
  /** The address every client uses by default: TCP {@code 127.0.0.1}, port 6666. */
  public static final FmAddress LOCALHOST = new FmAddress(Kind.TCP, "127.0.0.1");
  private static final int MAX_LENGTH = 255;

  /** The kind of address. */
  public enum Kind {
    /** TCP: {@code host} or {@code host:port}. */
    TCP,
    /** A Unix domain socket path. */
    UNIX
  }

  public FmAddress {
    if (kind == null || value == null) {
      throw new InvalidValueException("a Fabric Manager address needs a kind and a value");
    }
    if (value.isEmpty() || value.length() > MAX_LENGTH) {
      throw new InvalidValueException("Fabric Manager address '" + value
          + "' must have 1 to " + MAX_LENGTH + " characters (libnvfm's addressInfo holds 256)");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c <= ' ' || c == 0x7f) {
        throw new InvalidValueException("Fabric Manager address '" + value.replace("\n", "\\n")
            + "' contains whitespace or a control character");
      }
    }
    if (kind == Kind.UNIX && !value.startsWith("/")) {
      throw new InvalidValueException("Fabric Manager socket path '" + value
          + "' must be absolute");
    }
    if (kind == Kind.TCP) {
      checkTcp(value);
    }
  }

  private static void checkTcp(String value) {
    if (value.contains("/")) {
      throw new InvalidValueException("Fabric Manager TCP address '" + value
          + "' contains '/'; write unix:" + value + " for a socket");
    }
    int colon = value.lastIndexOf(':');
    if (colon >= 0 && value.indexOf(':') == colon) {
      String port = value.substring(colon + 1);
      int n;
      try {
        if (!port.matches("[0-9]{1,5}")) { // ASCII digits only: no sign, no other digits
          throw new NumberFormatException(port);
        }
        n = Integer.parseInt(port);
      } catch (NumberFormatException e) {
        throw new InvalidValueException("Fabric Manager address '" + value + "' has port '"
            + port + "', not a number");
      }
      if (n < 1 || n > 65535 || colon == 0) {
        throw new InvalidValueException("Fabric Manager address '" + value
            + "' needs a host and a port 1..65535");
      }
    }
  }

  /** A TCP address: a host, optionally with {@code :port}. */
  public static FmAddress tcp(String hostAndPort) {
    return new FmAddress(Kind.TCP, hostAndPort);
  }

  /** A Unix socket. */
  public static FmAddress unixSocket(String path) {
    return new FmAddress(Kind.UNIX, path);
  }

  /**
   * Parses {@code unix:/run/nvidia-fabricmanager/socket} or a TCP address ({@code 127.0.0.1},
   * {@code 10.0.0.5:7000}).
   *
   * @throws InvalidValueException naming the text and what is wrong
   */
  public static FmAddress parse(String text) {
    if (text == null) {
      throw new InvalidValueException("no Fabric Manager address given");
    }
    if (text.toLowerCase(Locale.ROOT).startsWith("unix:")) {
      return unixSocket(text.substring(5));
    }
    return tcp(text);
  }

  /** Whether this is a Unix socket. */
  public boolean isUnixSocket() {
    return kind == Kind.UNIX;
  }

  /** {@code unix:PATH} or the TCP address, as {@link #parse} reads it. */
  @Override
  public String toString() {
    return kind == Kind.UNIX ? "unix:" + value : value;
  }
}
