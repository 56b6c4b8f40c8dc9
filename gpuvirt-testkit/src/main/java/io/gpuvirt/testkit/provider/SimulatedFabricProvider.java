package io.gpuvirt.testkit.provider;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.gpuhost.FabricManagerBinding;
import io.gpuvirt.core.gpuhost.FabricManagerProvider;
import io.gpuvirt.core.gpuhost.HostEnvironment;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.core.pci.PciDevice;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.testkit.SimulatedHost;
import io.gpuvirt.testkit.fabric.FakeNvidiaSmi;
import io.gpuvirt.testkit.fabric.NvidiaSmiFormat;
import io.gpuvirt.testkit.fabric.SimulatedFabric;
import io.gpuvirt.testkit.fabric.SimulatedGpu;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The Fabric Manager of a simulated host, for {@link io.gpuvirt.core.gpuhost.GpuHost}: its own
 * simulated one, per profile ({@link SimulatedFabric#ofHost(SimulatedHost)}), so a simulated HGX
 * H100 in shared NVSwitch mode gets the H100 table and a workstation none. Asked before the real
 * providers.
 *
 * <p>A service implementation ({@code provides} in module-info); not API.
 */
public final class SimulatedFabricProvider implements FabricManagerProvider {
  /** For {@link java.util.ServiceLoader}. */
  public SimulatedFabricProvider() {}

  @Override
  public int priority() {
    return 100;
  }

  @Override
  public Optional<FabricManagerBinding> bind(HostEnvironment environment) {
    if (!environment.simulated() || !SimulatedHost.isSimulatedHost(environment.root())) {
      return Optional.empty();
    }
    SimulatedHost host = SimulatedHost.open(environment.root());
    boolean written = Files.exists(host.root().resolve(SimulatedFabric.STATE_PATH));
    int mode = host.profile().fabricMode().orElse(0);
    if (!written && mode != 1 && mode != 2) {
      return Optional.empty();
    }
    return Optional.of(new FabricManagerBinding() {
      @Override
      public String description() {
        return "simulated Fabric Manager (" + host.root().resolve(SimulatedFabric.STATE_PATH)
            + ")";
      }

      @Override
      public FabricManager connect() {
        return fabric(host).connect();
      }

      @Override
      public boolean vgpuMode() {
        return mode == 2;
      }

      @Override
      public ModuleIdMap discoverModuleIds(Topology topology) {
        // What nvidia-smi -q reports: the module ids of the GPUs on the nvidia driver.
        Set<String> onNvidia = onNvidia(topology);
        Map<Integer, PciAddress> ids = new TreeMap<>();
        for (SimulatedGpu gpu : fabric(host).gpus()) {
          if (onNvidia.contains(gpu.address().toString())) {
            ids.put(gpu.moduleId(), gpu.address());
          }
        }
        return new ModuleIdMap(ids);
      }

      @Override
      public String toString() {
        return description();
      }
    });
  }

  private static SimulatedFabric fabric(SimulatedHost host) {
    return SimulatedFabric.ofHost(host).orElseThrow();
  }

  private static Set<String> onNvidia(Topology topology) {
    Set<String> onNvidia = new TreeSet<>();
    for (PciDevice gpu : topology.gpus()) {
      if (gpu.driver().equals(Optional.of("nvidia"))) {
        onNvidia.add(gpu.address().toString());
      }
    }
    return onNvidia;
  }

  /** A fake {@code nvidia-smi -q} that lists the GPUs on the nvidia driver now. */
  static FakeNvidiaSmi nvidiaSmi(SimulatedHost host, SimulatedFabric fabric) {
    return new FakeNvidiaSmi(() -> {
      Set<String> onNvidia = onNvidia(TopologyScanner.scan(host.sysfs()));
      List<SimulatedGpu> gpus = fabric.gpus().stream()
          .filter(g -> onNvidia.contains(g.address().toString())).toList();
      return gpus;
    }, fabric.driverVersion(), NvidiaSmiFormat.PLATFORM_INFO);
  }
}
