package io.gpuvirt.testkit.provider;

import io.gpuvirt.core.gpuhost.HostEnvironment;
import io.gpuvirt.core.gpuhost.HostProvider;
import io.gpuvirt.testkit.SimulatedHost;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Opens simulated hosts for {@link io.gpuvirt.core.gpuhost.GpuHost}: a root written by
 * {@code SimulatedHost.create(profile, dir)} or {@code gpuvirt simulate} is read and written
 * through its kernel model, and its {@code nvidia-smi} and {@code fmpm} are the fakes of its
 * simulated Fabric Manager.
 *
 * <p>A service implementation ({@code provides} in module-info); not API.
 */
public final class SimulatedHostProvider implements HostProvider {
  /** For {@link java.util.ServiceLoader}. */
  public SimulatedHostProvider() {}

  @Override
  public Optional<HostEnvironment> open(Path root) {
    if (!SimulatedHost.isSimulatedHost(root)) {
      return Optional.empty();
    }
    SimulatedHost host = SimulatedHost.open(root);
    return Optional.of(new HostEnvironment(root, host.sysfs(), new SimulatedCommands(host),
        "simulated " + host.profile().name() + " at " + root, true));
  }
}
