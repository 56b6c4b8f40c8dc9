package io.gpuvirt.examples.guest;

import io.gpuvirt.core.InvalidValueException;
import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Asks the CUDA driver library whether CUDA works: {@code cuDriverGetVersion}, {@code cuInit(0)}
 * (named with the library's {@code cuGetErrorName} when it has one) and, when that succeeded,
 * {@code cuDeviceGetCount}. It is the check Ubicloud ran by hand in their B200 guests
 * ({@code ctypes.CDLL('libcuda.so.1').cuInit(0)}), through JNA.
 *
 * <pre>{@code
 * CudaStatus cuda = CudaDriverProbe.probe(CudaDriverProbe.DEFAULT_LIBRARY);
 * cuda.init();   // Optional[3 CUDA_ERROR_NOT_INITIALIZED] with a B200 on the root complex
 * }</pre>
 *
 * <p>A library that cannot be loaded (no NVIDIA driver installed) is reported in the status, not
 * thrown. Loading the library runs its initialisers in this process; it is not unloaded.
 */
public final class CudaDriverProbe {
  /** The driver's library, as the dynamic linker finds it. */
  public static final String DEFAULT_LIBRARY = "libcuda.so.1";

  private CudaDriverProbe() {}

  /**
   * Loads {@code library} (a name the dynamic linker resolves, or a path) and asks it.
   *
   * @param library {@code libcuda.so.1} or the path of a libcuda
   */
  public static CudaStatus probe(String library) {
    Objects.requireNonNull(library, "library");
    if (library.isBlank()) {
      throw new InvalidValueException("CUDA library name is blank; give libcuda.so.1 or a path");
    }
    NativeLibrary cuda;
    try {
      cuda = NativeLibrary.getInstance(library);
    } catch (UnsatisfiedLinkError e) {
      return CudaStatus.notLoaded(library, "cannot load " + library + ": " + linkerError(e)
          + "; install the NVIDIA driver in the guest (the nvidia-open packages on HGX B200,"
          + " the same version as the host's Fabric Manager in shared NVSwitch mode)");
    }
    Optional<Function> cuInit = function(cuda, "cuInit");
    if (cuInit.isEmpty()) {
      return CudaStatus.notLoaded(library, library + " has no cuInit: it is not the CUDA driver"
          + " library; give the path of the NVIDIA driver's libcuda.so.1");
    }
    OptionalInt version = OptionalInt.empty();
    Optional<Function> getVersion = function(cuda, "cuDriverGetVersion");
    if (getVersion.isPresent()) {
      IntByReference v = new IntByReference();
      if (getVersion.get().invokeInt(new Object[] {v}) == CuResult.SUCCESS) {
        version = OptionalInt.of(v.getValue());
      }
    }
    CuResult init = CuResult.of(cuInit.get().invokeInt(new Object[] {0}));
    Optional<String> libraryName = errorName(cuda, init.code());
    Optional<CuResult> countResult = Optional.empty();
    OptionalInt count = OptionalInt.empty();
    Optional<Function> getCount = function(cuda, "cuDeviceGetCount");
    if (init.success() && getCount.isPresent()) {
      IntByReference n = new IntByReference();
      CuResult r = CuResult.of(getCount.get().invokeInt(new Object[] {n}));
      countResult = Optional.of(r);
      if (r.success()) {
        count = OptionalInt.of(n.getValue());
      }
    }
    return new CudaStatus(library, Optional.empty(), version, Optional.of(init), libraryName,
        countResult, count);
  }

  /** {@code cuGetErrorName(code, &name)}, when the library has it and knows the code. */
  private static Optional<String> errorName(NativeLibrary cuda, int code) {
    Optional<Function> f = function(cuda, "cuGetErrorName");
    if (f.isEmpty()) {
      return Optional.empty();
    }
    PointerByReference name = new PointerByReference();
    if (f.get().invokeInt(new Object[] {code, name}) != CuResult.SUCCESS
        || name.getValue() == null) {
      return Optional.empty();
    }
    return Optional.of(name.getValue().getString(0, "US-ASCII"));
  }

  private static Optional<Function> function(NativeLibrary library, String name) {
    try {
      return Optional.of(library.getFunction(name));
    } catch (UnsatisfiedLinkError e) {
      return Optional.empty();
    }
  }

  /**
   * The dynamic linker's reason from JNA's message ("Unable to load library 'x':" followed by
   * one line per place tried, the linker's first).
   */
  private static String linkerError(UnsatisfiedLinkError e) {
    List<String> lines = String.valueOf(e.getMessage()).strip().lines().map(String::strip)
        .filter(l -> !l.isEmpty()).toList();
    if (lines.size() > 1 && lines.get(0).startsWith("Unable to load library")) {
      return lines.get(1);
    }
    return lines.isEmpty() ? e.toString() : lines.get(0);
  }
}
