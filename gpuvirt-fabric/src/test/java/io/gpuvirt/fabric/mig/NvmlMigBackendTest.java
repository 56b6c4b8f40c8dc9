package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.testkit.SimulatedHost;
import org.junit.jupiter.api.AfterEach;

/** The MIG backend contract over NVML, against the testkit's gcc-built libnvidia-ml. */
final class NvmlMigBackendTest extends MigBackendContract {
  private NvmlMigBackend nvml;

  @Override
  protected MigBackend backend(SimulatedHost host) {
    nvml = NvmlFixture.open(host);
    return nvml;
  }

  @AfterEach
  void shutdown() {
    if (nvml != null) {
      nvml.close();
    }
  }
}
