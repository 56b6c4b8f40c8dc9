package io.gpuvirt.core.gpuhost;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.pci.Topology;

/**
 * The Fabric Manager of one host, chosen but not yet connected: how to connect to it, and how to
 * learn which GPU has which module id (the ids its partitions name). A
 * {@link FabricManagerProvider} returns one; an integrator who chooses the implementation passes
 * one to {@link GpuHost.Builder#fabricManager(FabricManagerBinding)}.
 */
public interface FabricManagerBinding {
  /** The implementation and where it is, for output ({@code libnvfm.so.1 at 127.0.0.1:6666}). */
  String description();

  /**
   * Connects a client.
   *
   * @throws io.gpuvirt.core.GpuvirtException naming the library, program or address and the fix
   */
  FabricManager connect();

  /**
   * Discovers the module-id map on the host now (on a real host from {@code nvidia-smi -q}, which
   * needs every GPU on the nvidia driver). {@link GpuHost} checks it against the topology and keeps
   * it in the state directory.
   *
   * @param topology the host as scanned now
   */
  ModuleIdMap discoverModuleIds(Topology topology);

  /**
   * Whether this Fabric Manager runs in vGPU-based multitenancy mode ({@code FABRIC_MODE=2}):
   * its partitions are then activated with the VFs of vGPU leases ({@link
   * GpuHost#vgpuProvisioner()}), never for whole GPUs. False (shared NVSwitch mode) unless a
   * binding says so.
   */
  default boolean vgpuMode() {
    return false;
  }

  /** A binding for a Fabric Manager client the caller already has, with a known module-id map. */
  static FabricManagerBinding of(FabricManager fabricManager, ModuleIdMap moduleIds) {
    java.util.Objects.requireNonNull(fabricManager, "fabricManager");
    java.util.Objects.requireNonNull(moduleIds, "moduleIds");
    return new FabricManagerBinding() {
      @Override
      public String description() {
        return fabricManager.toString();
      }

      @Override
      public FabricManager connect() {
        return fabricManager;
      }

      @Override
      public ModuleIdMap discoverModuleIds(Topology topology) {
        return moduleIds;
      }
    };
  }
}
