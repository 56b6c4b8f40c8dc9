package io.gpuvirt.core.alloc;

import io.gpuvirt.core.InvalidValueException;
import java.util.List;
import java.util.Objects;

/**
 * How a leased device was reset before it was bound: a write of {@code 1} to its sysfs
 * {@code reset} while it was still on its host driver. The kernel picks the method; where it shows
 * the methods it may use ({@code reset_method}, Linux 5.15 and later: {@code flr}, {@code pm},
 * {@code bus}, ...) they are recorded.
 *
 * @param driver the driver the device was on when it was reset (empty string when unbound)
 * @param methods the kernel's reset methods, in its order; empty when the kernel does not say
 */
public record DeviceReset(String driver, List<String> methods) {
  public DeviceReset {
    Objects.requireNonNull(driver, "driver");
    methods = List.copyOf(methods);
    for (String m : methods) {
      if (!m.matches("[a-z0-9_]{1,32}")) {
        throw new InvalidValueException("reset method '" + m + "' is not a kernel reset method"
            + " name (flr, pm, bus, ...)");
      }
    }
  }

  /** "sysfs reset on nvidia (methods flr bus)". */
  @Override
  public String toString() {
    return "sysfs reset on " + (driver.isEmpty() ? "no driver" : driver)
        + (methods.isEmpty() ? "" : " (methods " + String.join(" ", methods) + ")");
  }
}
