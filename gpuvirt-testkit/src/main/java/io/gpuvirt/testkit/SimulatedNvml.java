package io.gpuvirt.testkit;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.HostAccessException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
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

  private static final String SOURCE = "libnvidia-ml-sim.c";

  private SimulatedNvml() {}

  /** The C source. */
  public static String source() {
    try (InputStream in = SimulatedNvml.class.getResourceAsStream(SOURCE)) {
      if (in == null) {
        throw new GpuvirtException("the testkit resource " + SOURCE + " is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new GpuvirtException("could not read the testkit resource " + SOURCE, e);
    }
  }

  /**
   * Compiles the library into {@code directory} with {@code gcc} (run through {@code runner}),
   * unless the same source was compiled there already.
   *
   * @return the path of the built {@value #LIBRARY_FILE}
   * @throws GpuvirtException when gcc fails, with its diagnostics
   */
  public static synchronized Path build(CommandRunner runner, Path directory) {
    Path src = directory.resolve(SOURCE);
    Path lib = directory.resolve(LIBRARY_FILE);
    String source = source();
    try {
      Files.createDirectories(directory);
      if (Files.exists(lib) && Files.exists(src)
          && Files.readString(src, StandardCharsets.UTF_8).equals(source)) {
        return lib;
      }
      Files.writeString(src, source, StandardCharsets.UTF_8);
      Files.deleteIfExists(lib);
    } catch (IOException e) {
      throw new HostAccessException(directory.toString(), "could not prepare " + directory
          + " for the simulated libnvidia-ml: " + e.getMessage(), e);
    }
    // -Bsymbolic: each host's copy binds its calls to itself, not to the first copy loaded.
    CommandResult r = runner.run(Command.of(List.of("gcc", "-std=c11", "-O1", "-Wall", "-Wextra",
        "-Werror", "-fPIC", "-shared", "-fvisibility=hidden", "-Wl,-Bsymbolic",
        "-Wl,-soname," + LIBRARY_FILE, "-o", lib.toString(), src.toString(), "-lpthread"))
        .withTimeout(Duration.ofMinutes(2)));
    if (!r.succeeded()) {
      throw new GpuvirtException("gcc could not build the simulated libnvidia-ml from " + src
          + " (exit " + r.exitCode() + "): " + r.stderr().strip());
    }
    return lib;
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
