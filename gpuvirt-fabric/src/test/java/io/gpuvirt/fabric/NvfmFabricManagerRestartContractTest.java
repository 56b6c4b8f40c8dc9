package io.gpuvirt.fabric;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.fabric.nvfm.NvfmFabricManager;
import io.gpuvirt.fabric.nvfm.NvfmOptions;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/**
 * The restart contract against the libnvfm client over JNA, loading the simulated libnvfm.so.1
 * that gcc builds from the testkit's C source, connected through the simulation's Unix-socket
 * address.
 */
final class NvfmFabricManagerRestartContractTest extends FabricManagerRestartContract {
  private static Path library;

  @BeforeAll
  static void buildLibrary() {
    library = ExternalTools.simulatedNvfm();
  }

  @Override
  FabricManager connect(SimulatedFabric fabric) {
    return NvfmFabricManager.connect(NvfmOptions.defaults().withLibrary(library.toString())
        .withAddress(FmAddress.unixSocket(fabric.stateFile().toString())));
  }
}
