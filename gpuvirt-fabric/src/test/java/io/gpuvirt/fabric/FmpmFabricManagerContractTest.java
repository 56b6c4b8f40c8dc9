package io.gpuvirt.fabric;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.fabric.fmpm.FmpmFabricManager;
import io.gpuvirt.fabric.fmpm.FmpmOptions;
import io.gpuvirt.testkit.fabric.SimulatedFabric;

/** The contract against the fmpm client running the testkit's fake fmpm. */
final class FmpmFabricManagerContractTest extends FabricManagerContract {
  @Override
  FabricManager connect(SimulatedFabric fabric) {
    return FmpmFabricManager.create(fabric.fmpm(), FmpmOptions.defaults());
  }

  @Override
  boolean passesVirtualFunctions() {
    return false;
  }
}
