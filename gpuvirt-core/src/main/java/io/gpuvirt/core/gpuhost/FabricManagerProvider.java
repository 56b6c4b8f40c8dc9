package io.gpuvirt.core.gpuhost;

import java.util.Optional;

/**
 * A service ({@link java.util.ServiceLoader}) that finds a host's Fabric Manager. gpuvirt-fabric
 * provides one for real hosts ({@code fabricmanager.cfg} with {@code FABRIC_MODE=1}: libnvfm when
 * installed, else {@code fmpm}); gpuvirt-testkit one for simulated hosts. {@link GpuHost} asks
 * them in order of {@link #priority()}, highest first, and takes the first binding.
 */
public interface FabricManagerProvider {
  /** Asked before providers with a lower priority (default 0). */
  default int priority() {
    return 0;
  }

  /**
   * The Fabric Manager of this host when this provider serves it, else empty (the host has no
   * Fabric Manager in shared NVSwitch mode, or it is another provider's kind of host). Connects
   * nothing and writes nothing.
   *
   * @throws io.gpuvirt.core.GpuvirtException when the host's Fabric Manager configuration cannot be
   *     read, naming the file and the fix
   */
  Optional<FabricManagerBinding> bind(HostEnvironment host);
}
