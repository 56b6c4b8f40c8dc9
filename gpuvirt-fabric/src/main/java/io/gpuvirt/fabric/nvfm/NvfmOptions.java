package io.gpuvirt.fabric.nvfm;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.fabric.FmAddress;
import java.time.Duration;

/**
 * How {@link NvfmFabricManager} connects: which library, which address, how long to wait.
 *
 * <pre>{@code
 * NvfmOptions o = NvfmOptions.defaults()
 *     .withAddress(FmAddress.unixSocket("/run/nvidia-fabricmanager/socket"));
 * }</pre>
 *
 * @param library the library to load: a file name searched the usual way ({@code libnvfm.so.1}) or
 *     a path
 * @param address where Fabric Manager's API listens
 * @param timeout the connect timeout passed to libnvfm ({@code timeoutMs})
 */
public record NvfmOptions(String library, FmAddress address, Duration timeout) {
  /** The library's SONAME, what Debian's libnvfm1 ships. */
  public static final String DEFAULT_LIBRARY = "libnvfm.so.1";
  /** The connect timeout go-nvfm and fmpm use. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(1000);

  public NvfmOptions {
    if (library == null || library.isBlank() || library.indexOf('\0') >= 0) {
      throw new InvalidValueException("name the libnvfm library to load, for example "
          + DEFAULT_LIBRARY);
    }
    if (address == null) {
      throw new InvalidValueException("a Fabric Manager address is needed, for example "
          + FmAddress.LOCALHOST);
    }
    if (timeout == null || timeout.isNegative() || timeout.isZero()
        || timeout.toMillis() > Integer.MAX_VALUE) {
      throw new InvalidValueException("connect timeout must be positive and below 2^31 ms, was "
          + timeout);
    }
  }

  /** {@code libnvfm.so.1}, TCP 127.0.0.1:6666, 1 s. */
  public static NvfmOptions defaults() {
    return new NvfmOptions(DEFAULT_LIBRARY, FmAddress.LOCALHOST, DEFAULT_TIMEOUT);
  }

  public NvfmOptions withLibrary(String newLibrary) {
    return new NvfmOptions(newLibrary, address, timeout);
  }

  public NvfmOptions withAddress(FmAddress newAddress) {
    return new NvfmOptions(library, newAddress, timeout);
  }

  public NvfmOptions withTimeout(Duration newTimeout) {
    return new NvfmOptions(library, address, newTimeout);
  }
}
