/**
 * gpuvirt testkit: simulated hosts that stand in for hardware (an HGX B200, an HGX H100, a
 * workstation, a host without ACS, a host with the IOMMU off), a kernel model that reacts to sysfs
 * writes the way Linux does, typed fault injection and seeded generators of random hosts.
 */
module io.gpuvirt.testkit {
  requires transitive io.gpuvirt.core;
  requires com.fasterxml.jackson.databind;

  exports io.gpuvirt.testkit;
  exports io.gpuvirt.testkit.fabric;

  // simulated hosts and their Fabric Managers, for GpuHost
  provides io.gpuvirt.core.gpuhost.HostProvider
      with io.gpuvirt.testkit.provider.SimulatedHostProvider;
  provides io.gpuvirt.core.gpuhost.FabricManagerProvider
      with io.gpuvirt.testkit.provider.SimulatedFabricProvider;
}
