package io.gpuvirt.fabric.mig;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.gpuhost.GpuHost;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.mig.MigBackend;
import io.gpuvirt.testkit.SimulatedHost;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The MIG backend contract over the simulated host's {@code nvidia-smi}, and garbage from it. */
final class NvidiaSmiMigBackendTest extends MigBackendContract {
  @Override
  protected MigBackend backend(SimulatedHost host) {
    return NvidiaSmiMigBackend.on(GpuHost.environment(host.root()).commands());
  }

  @Test
  void gpus_garbageFromNvidiaSmi_isAFormatErrorNamingTheLine() {
    MigBackend garbage = NvidiaSmiMigBackend.on(c -> new CommandResult(c.argv(), 0,
        "0, 00000000:17:00.0, NVIDIA B200, 0x290110DE, Enabled, Enabled\n"
            + "1, 00000000:3D:00.0; rm -rf /, 0x290110DE, Enabled\n", "", Duration.ZERO, false));

    NvidiaSmiFormatException e = assertThrows(NvidiaSmiFormatException.class, garbage::gpus);

    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
  }

  @Test
  void createGpuInstance_successWithoutItsMessage_isRefused() {
    MigBackend odd = NvidiaSmiMigBackend.on(c -> new CommandResult(c.argv(), 0, "All done.\n", "",
        Duration.ZERO, false));

    assertThrows(NvidiaSmiFormatException.class,
        () -> odd.createGpuInstance(0, B200.profile("1g.23gb")));
  }
}
