package io.gpuvirt.fabric.provider;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.gpuhost.FabricManagerBinding;
import io.gpuvirt.core.gpuhost.FabricManagerProvider;
import io.gpuvirt.core.gpuhost.HostEnvironment;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.fabric.FabricManagerConfig;
import io.gpuvirt.fabric.FmAddress;
import io.gpuvirt.fabric.fmpm.FmpmFabricManager;
import io.gpuvirt.fabric.fmpm.FmpmOptions;
import io.gpuvirt.fabric.moduleid.ModuleIdDiscovery;
import io.gpuvirt.fabric.nvfm.NvfmFabricManager;
import io.gpuvirt.fabric.nvfm.NvfmOptions;
import java.util.List;
import java.util.Optional;

/**
 * The Fabric Manager of a real host, for {@link io.gpuvirt.core.gpuhost.GpuHost}: when the host's
 * {@code fabricmanager.cfg} sets {@code FABRIC_MODE=1} (shared NVSwitch) or {@code 2} (vGPU
 * mode, {@link FabricManagerBinding#vgpuMode()}), libnvfm ({@value NvfmOptions#DEFAULT_LIBRARY},
 * Debian's {@code libnvfm1}) when it is installed, else the {@code fmpm} program (which cannot
 * activate a partition with VFs, so vGPU mode needs libnvfm), at the command address the file
 * names (127.0.0.1:6666 when none); module ids from {@code nvidia-smi -q}. Simulated hosts are the
 * testkit's to serve.
 *
 * <p>A service implementation ({@code provides} in module-info); not API.
 */
public final class HostFabricManagerProvider implements FabricManagerProvider {
  /** Where distributions install libnvfm. */
  static final List<String> LIBRARY_DIRECTORIES = List.of("/usr/lib/x86_64-linux-gnu",
      "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu",
      "/lib/aarch64-linux-gnu", "/lib64");
  /** Where distributions install fmpm. */
  static final List<String> PROGRAM_DIRECTORIES = List.of("/usr/bin", "/usr/sbin",
      "/usr/local/bin", "/usr/local/sbin");

  /** For {@link java.util.ServiceLoader}. */
  public HostFabricManagerProvider() {}

  @Override
  public Optional<FabricManagerBinding> bind(HostEnvironment host) {
    Sysfs sysfs = host.sysfs();
    if (host.simulated() || !sysfs.exists(FabricManagerConfig.DEFAULT_PATH)) {
      return Optional.empty();
    }
    FabricManagerConfig config = FabricManagerConfig.read(sysfs, FabricManagerConfig.DEFAULT_PATH);
    boolean vgpuMode = config.fabricMode() == 2;
    if (!config.sharedNvswitchMode() && !vgpuMode) {
      return Optional.empty();
    }
    Optional<FmAddress> address = config.commandAddress();
    Optional<String> library = find(sysfs, LIBRARY_DIRECTORIES, NvfmOptions.DEFAULT_LIBRARY);
    if (library.isPresent()) {
      NvfmOptions options = address.map(NvfmOptions.defaults()::withAddress)
          .orElse(NvfmOptions.defaults());
      return Optional.of(new Binding(host, "libnvfm (" + library.get() + ") at "
          + options.address(), () -> NvfmFabricManager.connect(options), vgpuMode));
    }
    Optional<String> fmpm = find(sysfs, PROGRAM_DIRECTORIES, FmpmOptions.DEFAULT_PROGRAM);
    if (fmpm.isPresent()) {
      FmpmOptions base = FmpmOptions.defaults().withProgram(fmpm.get());
      FmpmOptions options = address.map(base::withAddress).orElse(base);
      // fmpm has no VF option: in vGPU mode its activations are refused, with the reason
      return Optional.of(new Binding(host, "fmpm (" + fmpm.get() + ")",
          () -> FmpmFabricManager.create(host.commands(), options), vgpuMode));
    }
    return Optional.of(new Binding(host, "none installed", () -> {
      throw new GpuvirtException(config.source() + " sets FABRIC_MODE=" + config.fabricMode()
          + (vgpuMode ? " (vGPU mode)" : " (shared NVSwitch)") + " but"
          + " neither " + NvfmOptions.DEFAULT_LIBRARY + " (in " + LIBRARY_DIRECTORIES + ") nor "
          + FmpmOptions.DEFAULT_PROGRAM + " (in " + PROGRAM_DIRECTORIES + ") is installed on "
          + host.description() + "; install libnvfm1 (NVIDIA's Fabric Manager packages)");
    }, vgpuMode));
  }

  private static Optional<String> find(Sysfs sysfs, List<String> directories, String name) {
    for (String directory : directories) {
      String path = directory + "/" + name;
      if (sysfs.exists(path)) {
        return Optional.of(path);
      }
    }
    return Optional.empty();
  }

  /** How to connect, with module ids from nvidia-smi on the host. */
  private record Binding(HostEnvironment host, String description,
      java.util.function.Supplier<FabricManager> connector, boolean vgpuMode)
      implements FabricManagerBinding {
    @Override
    public FabricManager connect() {
      return connector.get();
    }

    @Override
    public ModuleIdMap discoverModuleIds(Topology topology) {
      return ModuleIdDiscovery.fromNvidiaSmi(host.commands(), "nvidia-smi").moduleIds();
    }
  }
}
