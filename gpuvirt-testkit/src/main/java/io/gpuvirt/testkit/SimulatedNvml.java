package io.gpuvirt.testkit;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.testkit.clib.SimulatedLibrarySource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A simulated {@code libnvidia-ml.so.1}: C source with NVML's MIG calls (versioned exports, the
 * x86_64 struct layouts of {@code nvml.h}, NVML's return codes) over the very state file of
 * {@link SimulatedMig}, compiled with gcc, so that a JNA binding of NVML is tested against a real
 * native library and what it creates is what the simulated {@code nvidia-smi} lists, and the
 * reverse. It behaves as the simulated driver does: a mode change pending until a reset
 * ({@code nvidia-smi -r}; NVML has no reset), "Insufficient Resources", GPU instances with compute
 * instances in use, MIG off refused while instances exist, GPUs on VFIO invisible.
 *
 * <p>Each simulated host gets its own copy of the library, in its tree at {@value #HOST_PATH}: the
 * library finds the state by walking up from where it was loaded, so two hosts in one JVM never
 * share one.
 *
 * <pre>{@code
 * Path built = SimulatedNvml.build(CommandRunner.system(), Path.of("target/nvml-sim"));
 * Path lib = SimulatedNvml.install(host, built); // load this path with JNA
 * }</pre>
 */
public final class SimulatedNvml {
  /** The file name of the built library, NVML's SONAME. */
  public static final String LIBRARY_FILE = "libnvidia-ml.so.1";
  /** Where {@link #install} puts the library in a simulated host's tree, as Debian does. */
  public static final String HOST_PATH = "usr/lib/x86_64-linux-gnu/" + LIBRARY_FILE;
  /** The functions the library exports, each as the real libnvidia-ml names it. */
  public static final List<String> FUNCTIONS = List.of("nvmlInit_v2", "nvmlShutdown",
      "nvmlErrorString", "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2",
      "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetName", "nvmlDeviceGetMigMode",
      "nvmlDeviceSetMigMode", "nvmlDeviceGetGpuInstanceProfileInfo",
      "nvmlDeviceGetGpuInstancePossiblePlacements_v2", "nvmlDeviceCreateGpuInstance",
      "nvmlDeviceGetGpuInstances", "nvmlDeviceGetGpuInstanceById", "nvmlGpuInstanceGetInfo",
      "nvmlGpuInstanceDestroy", "nvmlGpuInstanceGetComputeInstanceProfileInfo",
      "nvmlGpuInstanceCreateComputeInstance", "nvmlGpuInstanceGetComputeInstances",
      "nvmlGpuInstanceGetComputeInstanceById", "nvmlComputeInstanceGetInfo_v2",
      "nvmlComputeInstanceDestroy");

  // -Bsymbolic: each host's copy binds its calls to itself, not to the first copy loaded.
  private static final SimulatedLibrarySource SOURCE = new SimulatedLibrarySource(
      SimulatedNvml.class, "libnvidia-ml-sim.c", LIBRARY_FILE, "libnvidia-ml",
      List.of("-Wl,-Bsymbolic"));

  private SimulatedNvml() {}

  /** The C source; it includes the testkit's JSON header, {@code sim-json.h}. */
  public static String source() {
    return SOURCE.source();
  }

  /**
   * Compiles the library into {@code directory} with {@code gcc} (run through {@code runner}),
   * unless the same source and header were compiled there already. The source and
   * {@code sim-json.h} are written into {@code directory} beside the library.
   *
   * @return the path of the built {@value #LIBRARY_FILE}
   * @throws GpuvirtException when gcc fails, with its diagnostics
   */
  public static Path build(CommandRunner runner, Path directory) {
    return SOURCE.build(runner, directory);
  }

  /**
   * Installs a built library into {@code host}'s tree at {@value #HOST_PATH} and publishes the
   * host's MIG state ({@link SimulatedMig#publish()}) for it.
   *
   * @param built what {@link #build} returned
   * @return the absolute path to load
   */
  public static Path install(SimulatedHost host, Path built) {
    Path target = host.root().resolve(HOST_PATH);
    try {
      Files.createDirectories(target.getParent());
      Files.copy(built, target, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new HostAccessException(target.toString(), "could not install the simulated "
          + "libnvidia-ml at " + target + ": " + e.getMessage(), e);
    }
    SimulatedMig.of(host).publish();
    return target.toAbsolutePath();
  }
}
