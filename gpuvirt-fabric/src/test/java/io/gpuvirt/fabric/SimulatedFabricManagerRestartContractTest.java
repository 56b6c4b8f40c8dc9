package io.gpuvirt.fabric;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.testkit.fabric.SimulatedFabric;

/** The restart contract against the simulation's own client. */
final class SimulatedFabricManagerRestartContractTest extends FabricManagerRestartContract {
  @Override
  FabricManager connect(SimulatedFabric fabric) {
    return fabric.connect();
  }
}
