package io.gpuvirt.fabric.fmpm;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.fabric.FmAddress;
import java.time.Duration;
import java.util.Optional;

/**
 * How {@link FmpmFabricManager} runs NVIDIA's {@code fmpm} tool.
 *
 * @param program the fmpm program ({@code fmpm} on PATH, or {@code /usr/bin/fmpm})
 * @param address where Fabric Manager listens; empty for fmpm's default (127.0.0.1)
 * @param timeout how long one fmpm run may take before it is killed
 */
public record FmpmOptions(String program, Optional<FmAddress> address, Duration timeout) {
  /** The program name used by default. */
  public static final String DEFAULT_PROGRAM = "fmpm";
  /** How long one run may take by default. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  public FmpmOptions {
    if (program == null || program.isBlank()) {
      throw new InvalidValueException("name the fmpm program, for example /usr/bin/fmpm");
    }
    if (address == null) {
      throw new InvalidValueException("address must be present or Optional.empty()");
    }
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new InvalidValueException("fmpm timeout must be positive, was " + timeout);
    }
  }

  /** {@code fmpm} on PATH, fmpm's default address, 30 s per run. */
  public static FmpmOptions defaults() {
    return new FmpmOptions(DEFAULT_PROGRAM, Optional.empty(), DEFAULT_TIMEOUT);
  }

  public FmpmOptions withProgram(String newProgram) {
    return new FmpmOptions(newProgram, address, timeout);
  }

  public FmpmOptions withAddress(FmAddress newAddress) {
    return new FmpmOptions(program, Optional.of(newAddress), timeout);
  }

  public FmpmOptions withTimeout(Duration newTimeout) {
    return new FmpmOptions(program, address, newTimeout);
  }
}
