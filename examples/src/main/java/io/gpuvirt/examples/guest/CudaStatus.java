package io.gpuvirt.examples.guest;

import io.gpuvirt.core.InvalidValueException;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What the CUDA driver library said inside the guest.
 *
 * @param library the library asked for ({@code libcuda.so.1} or a path)
 * @param loadError why the library could not be loaded; empty when it was
 * @param driverVersion {@code cuDriverGetVersion}: the CUDA version the driver supports, as CUDA
 *     encodes it ({@code 13000} for 13.0); empty when not loaded or the call failed
 * @param init the result of {@code cuInit(0)}; empty when the library was not loaded
 * @param initNameFromLibrary the name {@code cuGetErrorName} gives for that result; empty when the
 *     library has no {@code cuGetErrorName} or does not know the code
 * @param deviceCountResult the result of {@code cuDeviceGetCount}, called only after a successful
 *     {@code cuInit}
 * @param deviceCount the devices CUDA sees, when {@code cuDeviceGetCount} succeeded
 */
public record CudaStatus(String library, Optional<String> loadError, OptionalInt driverVersion,
    Optional<CuResult> init, Optional<String> initNameFromLibrary,
    Optional<CuResult> deviceCountResult, OptionalInt deviceCount) {

  public CudaStatus {
    Objects.requireNonNull(library, "library");
    Objects.requireNonNull(loadError, "loadError");
    Objects.requireNonNull(driverVersion, "driverVersion");
    Objects.requireNonNull(init, "init");
    Objects.requireNonNull(initNameFromLibrary, "initNameFromLibrary");
    Objects.requireNonNull(deviceCountResult, "deviceCountResult");
    Objects.requireNonNull(deviceCount, "deviceCount");
    if (loadError.isPresent() == init.isPresent()) {
      throw new InvalidValueException("a CUDA status has either a load error or a cuInit result");
    }
  }

  /** The library could not be loaded. */
  static CudaStatus notLoaded(String library, String why) {
    return new CudaStatus(library, Optional.of(why), OptionalInt.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), OptionalInt.empty());
  }

  /** Whether the library loaded. */
  public boolean loaded() {
    return loadError.isEmpty();
  }

  /** Whether CUDA is usable: {@code cuInit} succeeded and at least one device is visible. */
  public boolean ok() {
    return init.map(CuResult::success).orElse(false) && deviceCount.orElse(0) > 0;
  }

  /**
   * The name of the {@code cuInit} result: the library's own ({@code cuGetErrorName}) when it gave
   * one, else gpuvirt's table of {@code cuda.h}.
   */
  public Optional<String> initName() {
    return init.map(r -> initNameFromLibrary.orElse(r.name()));
  }

  /** The driver's CUDA version as text ({@code 13.0}), from {@link #driverVersion()}. */
  public Optional<String> driverVersionText() {
    if (driverVersion.isEmpty()) {
      return Optional.empty();
    }
    int v = driverVersion.getAsInt();
    return Optional.of(v / 1000 + "." + (v % 1000) / 10);
  }
}
