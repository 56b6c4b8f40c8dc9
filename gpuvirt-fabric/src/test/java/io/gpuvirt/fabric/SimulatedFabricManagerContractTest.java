package io.gpuvirt.fabric;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.testkit.fabric.SimulatedFabric;

/** The contract against the simulation's own client. */
final class SimulatedFabricManagerContractTest extends FabricManagerContract {
  @Override
  FabricManager connect(SimulatedFabric fabric) {
    return fabric.connect();
  }
}
