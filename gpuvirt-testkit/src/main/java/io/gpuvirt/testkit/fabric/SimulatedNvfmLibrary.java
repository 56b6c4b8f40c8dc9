package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.testkit.clib.SimulatedLibrarySource;
import java.nio.file.Path;
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

  private static final SimulatedLibrarySource SOURCE = new SimulatedLibrarySource(
      SimulatedNvfmLibrary.class, "libnvfm-sim.c", LIBRARY_FILE, "libnvfm", List.of());

  private SimulatedNvfmLibrary() {}

  /** The C source; it includes the testkit's JSON header, {@code sim-json.h}. */
  public static String source() {
    return SOURCE.source();
  }

  /**
   * Compiles the library into {@code directory} with {@code gcc} (run through {@code runner}), unless
   * the same source and header were compiled there already. The source and {@code sim-json.h} are
   * written into {@code directory} beside the library.
   *
   * @return the path of {@value #LIBRARY_FILE}
   * @throws GpuvirtException when gcc fails, with its diagnostics
   */
  public static Path build(CommandRunner runner, Path directory) {
    return SOURCE.build(runner, directory);
  }
}
