package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.fabric.ExternalTools;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.SimulatedNvml;
import java.nio.file.Path;

/** The testkit's simulated libnvidia-ml, built with gcc once per JVM, installed per host. */
final class NvmlFixture {
  private NvmlFixture() {}

  /** The built library; skips (fails under GPUVIRT_REQUIRE_TOOLS=1) without gcc. */
  static Path built() {
    ExternalTools.require("gcc");
    return SimulatedNvml.build(CommandRunner.system(), Path.of("target", "nvml-sim"))
        .toAbsolutePath();
  }

  /** The library installed into {@code host}'s tree. */
  static Path install(SimulatedHost host) {
    return SimulatedNvml.install(host, built());
  }

  /** An NVML backend on {@code host}, resetting through its simulated nvidia-smi. */
  static NvmlMigBackend open(SimulatedHost host) {
    return NvmlMigBackend.open(NvmlMigOptions.defaults().withLibrary(install(host).toString()),
        GpuHost.environment(host.root()).commands());
  }
}
