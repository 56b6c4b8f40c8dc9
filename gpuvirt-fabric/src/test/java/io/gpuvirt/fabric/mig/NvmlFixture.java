package io.gpuvirt.fabric.mig;

import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.fabric.ExternalTools;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.SimulatedNvml;
import com.sun.jna.Native;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

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

  /**
   * An NVML backend on {@code host} over the simulated library as {@code corrupt} changes it (a
   * {@link ForwardingNvml} with one answer changed).
   */
  static NvmlMigBackend corrupted(SimulatedHost host, UnaryOperator<NvmlMigLibrary> corrupt) {
    String lib = install(host).toString();
    return NvmlMigBackend.over(corrupt.apply(Native.load(lib, NvmlMigLibrary.class)),
        NvmlMigOptions.defaults().withLibrary(lib), GpuHost.environment(host.root()).commands());
  }

  /** The nvidia-smi backend on {@code host}: the other view of the same simulated driver. */
  static NvidiaSmiMigBackend smi(SimulatedHost host) {
    return NvidiaSmiMigBackend.on(GpuHost.environment(host.root()).commands());
  }

  /** An NVML backend on {@code host}, resetting through its simulated nvidia-smi. */
  static NvmlMigBackend open(SimulatedHost host) {
    return NvmlMigBackend.open(NvmlMigOptions.defaults().withLibrary(install(host).toString()),
        GpuHost.environment(host.root()).commands());
  }
}
