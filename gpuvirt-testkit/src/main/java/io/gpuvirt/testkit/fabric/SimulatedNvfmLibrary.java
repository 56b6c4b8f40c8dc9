package io.gpuvirt.testkit.fabric;

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
import java.time.Duration;
import java.util.List;

/**
 * A simulated {@code libnvfm.so.1}: C source with the libnvfm ABI (the 11 functions, exact struct
 * layouts, version words) backed by a {@link SimulatedFabric} state file, compiled with gcc on
 * demand, so that a JNA binding can be tested against a real native library.
 *
 * <p>Connect to a simulated Fabric Manager through its Unix-socket address: the path of its
 * {@linkplain SimulatedFabric#stateFile() state file}. A TCP address must equal the simulation's TCP
 * address, and the state file is then named by the environment variable {@value #STATE_ENV}.
 *
 * <pre>{@code
 * Path lib = SimulatedNvfmLibrary.build(CommandRunner.system(), Path.of("target/nvfm-sim"));
 * }</pre>
 */
public final class SimulatedNvfmLibrary {
  /** The environment variable naming the state file for TCP connections. */
  public static final String STATE_ENV = "GPUVIRT_SIM_FM_STATE";
  /** The file name of the built library. */
  public static final String LIBRARY_FILE = "libnvfm.so.1";
  /** The functions the library exports, as the real libnvfm does. */
  public static final List<String> FUNCTIONS = List.of("fmLibInit", "fmLibShutdown", "fmConnect",
      "fmDisconnect", "fmGetSupportedFabricPartitions", "fmActivateFabricPartition",
      "fmActivateFabricPartitionWithVFs", "fmDeactivateFabricPartition",
      "fmSetActivatedFabricPartitions", "fmGetNvlinkFailedDevices",
      "fmGetUnsupportedFabricPartitions");

  private static final String SOURCE = "libnvfm-sim.c";

  private SimulatedNvfmLibrary() {}

  /** The C source. */
  public static String source() {
    try (InputStream in = SimulatedNvfmLibrary.class.getResourceAsStream(SOURCE)) {
      if (in == null) {
        throw new GpuvirtException("the testkit resource " + SOURCE + " is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new GpuvirtException("could not read the testkit resource " + SOURCE, e);
    }
  }

  /**
   * Compiles the library into {@code directory} with {@code gcc} (run through {@code runner}), unless
   * the same source was compiled there already.
   *
   * @return the path of {@value #LIBRARY_FILE}
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
          + " for the simulated libnvfm: " + e.getMessage(), e);
    }
    CommandResult r = runner.run(Command.of(List.of("gcc", "-std=c11", "-O1", "-Wall", "-Wextra",
        "-Werror", "-fPIC", "-shared", "-fvisibility=hidden", "-Wl,-soname," + LIBRARY_FILE,
        "-o", lib.toString(), src.toString(), "-lpthread")).withTimeout(Duration.ofMinutes(2)));
    if (!r.succeeded()) {
      throw new GpuvirtException("gcc could not build the simulated libnvfm from " + src
          + " (exit " + r.exitCode() + "): " + r.stderr().strip());
    }
    return lib;
  }
}
