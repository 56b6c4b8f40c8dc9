package io.gpuvirt.core.gpuhost;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.alloc.PartitionContext;
import io.gpuvirt.core.doctor.GpuDriverPolicy;
import io.gpuvirt.core.doctor.HostDoctor;
import io.gpuvirt.core.doctor.ReadinessReport;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.ModuleIdMapStore;
import io.gpuvirt.core.fabric.RestartAwareFabricManager;
import io.gpuvirt.core.host.CommandRunner;
import io.gpuvirt.core.host.Sysfs;
import io.gpuvirt.core.ledger.LeaseLedger;
import io.gpuvirt.core.pci.Topology;
import io.gpuvirt.core.pci.TopologyScanner;
import io.gpuvirt.core.provision.Provisioner;
import io.gpuvirt.core.vfio.VfioBinder;
import io.gpuvirt.core.vgpu.VgpuDevices;
import io.gpuvirt.core.vgpu.VgpuProvisioner;
import io.gpuvirt.core.vmplan.VmPlanner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * One host, wired: the way in for a program that embeds gpuvirt. It opens a host (the real one at
 * {@code /}, or a root directory such as a simulated host), chooses its Fabric Manager from what
 * the host has, keeps the module-id map, and hands out the ledger, provisioner, binder and doctor
 * already wired to each other.
 *
 * <pre>{@code
 * try (GpuHost host = GpuHost.open(Path.of("/"))) {
 *   Provisioned vm = host.provisioner().provision(
 *       AllocationRequest.builder("vm-42").count(4).build());
 *   System.out.println(vm.lease());
 *   host.provisioner().teardown("vm-42");
 * }
 * }</pre>
 *
 * <p>The Fabric Manager is found through {@link FabricManagerProvider} services
 * ({@link ServiceLoader}): with gpuvirt-fabric on the class or module path, a host whose
 * {@code fabricmanager.cfg} sets {@code FABRIC_MODE=1} gets libnvfm when it is installed, else
 * {@code fmpm}; with gpuvirt-testkit, a simulated host gets its own simulated Fabric Manager. A
 * host that has none (a workstation, full passthrough) is provisioned by whole IOMMU groups. An
 * integrator who wants to choose passes the implementation to
 * {@link Builder#fabricManager(FabricManagerBinding)}, or {@link Builder#noFabricManager()}.
 *
 * <p>The VM planner is found the same way ({@link VmPlanner} services): with gpuvirt-qemu present,
 * every provisioning plans the QEMU command before it changes the host and returns it in
 * {@code Provisioned.plan()}. {@link Builder#vmPlanner(VmPlanner)} gives one explicitly.
 *
 * <p>Nothing is connected, scanned or written until it is asked for; opening checks only that the
 * root is a sysfs tree. Not thread-safe: one per operation, closed when done.
 */
public final class GpuHost implements AutoCloseable {
  /** The state directory of the real host ({@code /}). */
  public static final Path SYSTEM_STATE_DIRECTORY = LeaseLedger.DEFAULT_STATE_DIRECTORY;

  private final HostEnvironment environment;
  private final Path stateDirectory;
  private final Optional<FabricManagerBinding> fabric;
  private final Optional<VmPlanner> vmPlanner;
  private FabricManager fabricManager;
  private LeaseLedger ledger;
  private ModuleIdMap moduleIds;
  private boolean closed;

  private GpuHost(HostEnvironment environment, Path stateDirectory,
      Optional<FabricManagerBinding> fabric, Optional<VmPlanner> vmPlanner) {
    this.environment = environment;
    this.stateDirectory = stateDirectory;
    this.fabric = fabric;
    this.vmPlanner = vmPlanner;
  }

  /** The host at {@code root} with its default state directory and the Fabric Manager it has. */
  public static GpuHost open(Path root) {
    return builder(root).open();
  }

  /** A builder for the host at {@code root} ({@code /} for this machine). */
  public static Builder builder(Path root) {
    return new Builder(root);
  }

  /**
   * The default state directory of a host root: {@value LeaseLedger#DEFAULT_STATE_DIRECTORY_NAME}
   * for {@code /}, else {@code ROOT/var/lib/gpuvirt}, so a simulated host keeps its leases inside.
   */
  public static Path defaultStateDirectory(Path root) {
    Path real = root.toAbsolutePath().normalize();
    return real.getParent() == null ? SYSTEM_STATE_DIRECTORY : real.resolve("var/lib/gpuvirt");
  }

  /**
   * How gpuvirt reaches the host at {@code root}: a {@link HostProvider}'s (a simulated host), or
   * a real host. Checks that the root is a sysfs tree; writes nothing.
   *
   * @throws InvalidValueException when the root is empty
   * @throws io.gpuvirt.core.GpuvirtException when it is not a sysfs tree
   */
  public static HostEnvironment environment(Path root) {
    return environment(root, loadAll(HostProvider.class));
  }

  private static HostEnvironment environment(Path root, List<HostProvider> providers) {
    Objects.requireNonNull(root, "root");
    if (root.toString().isEmpty()) {
      throw new InvalidValueException("the host root is empty; pass / for this host or the"
          + " directory of a simulated host");
    }
    TopologyScanner.requireSysfsTree(Sysfs.at(root));
    for (HostProvider provider : providers) {
      Optional<HostEnvironment> found = provider.open(root);
      if (found.isPresent()) {
        return found.get();
      }
    }
    return HostEnvironment.real(root);
  }

  /** The host root. */
  public Path root() {
    return environment.root();
  }

  /** How gpuvirt reaches the host. */
  public HostEnvironment environment() {
    return environment;
  }

  /** The host seam: every read and write of the host goes through it. */
  public Sysfs sysfs() {
    return environment.sysfs();
  }

  /** Where external programs run for this host. */
  public CommandRunner commands() {
    return environment.commands();
  }

  /** Whether this is a simulated host. */
  public boolean simulated() {
    return environment.simulated();
  }

  /** The state directory: leases, journal, module-id map. */
  public Path stateDirectory() {
    return stateDirectory;
  }

  /** The host in words, for output. */
  public String describe() {
    return environment.description();
  }

  /** Scans the host's PCI topology now. */
  public Topology scan() {
    return TopologyScanner.scan(sysfs());
  }

  /**
   * Whether the host has a Fabric Manager with partitions: in shared NVSwitch mode (for whole
   * GPUs) or in vGPU mode ({@link #fabricVgpuMode()}).
   */
  public boolean hasFabricManager() {
    return fabric.isPresent();
  }

  /** Whether the host's Fabric Manager runs in vGPU mode ({@code FABRIC_MODE=2}). */
  public boolean fabricVgpuMode() {
    return fabric.map(FabricManagerBinding::vgpuMode).orElse(false);
  }

  /** The Fabric Manager chosen, in words; empty when the host has none. */
  public Optional<String> fabricManagerDescription() {
    return fabric.map(FabricManagerBinding::description);
  }

  /**
   * The host's Fabric Manager, connected on first use and closed with this host. If it restarted
   * in resiliency mode, the first call tells it the partitions this host's leases hold.
   *
   * @throws NoFabricManagerException when the host has none
   */
  public FabricManager fabricManager() {
    checkOpen();
    if (fabricManager == null) {
      FabricManager raw = requireFabric().connect();
      fabricManager = raw instanceof RestartAwareFabricManager ? raw
          : RestartAwareFabricManager.wrap(raw, () -> ledger().leasedActivePartitionIds());
    }
    return fabricManager;
  }

  /**
   * The module-id map: the one kept in the state directory (checked against the host, since a
   * board swap or renumbered buses make it stale), or, when there is none, discovered now and kept.
   *
   * @throws NoFabricManagerException when the host has no Fabric Manager
   */
  public ModuleIdMap moduleIds() {
    checkOpen();
    if (moduleIds == null) {
      FabricManagerBinding binding = requireFabric();
      Topology topology = scan();
      Optional<ModuleIdMap> saved = new ModuleIdMapStore(stateDirectory).load();
      moduleIds = saved.isPresent() ? saved.get().validateAgainst(topology)
          : keep(binding.discoverModuleIds(topology).validateAgainst(topology));
    }
    return moduleIds;
  }

  /**
   * Discovers the module-id map now, checks it against the host and keeps it in the state
   * directory, replacing the one kept before.
   *
   * @throws NoFabricManagerException when the host has no Fabric Manager
   */
  public ModuleIdMap discoverModuleIds() {
    checkOpen();
    FabricManagerBinding binding = requireFabric();
    Topology topology = scan();
    moduleIds = keep(binding.discoverModuleIds(topology).validateAgainst(topology));
    return moduleIds;
  }

  private ModuleIdMap keep(ModuleIdMap map) {
    new ModuleIdMapStore(stateDirectory).save(map);
    return map;
  }

  /**
   * The Fabric Manager and module ids for partition-aware allocation of whole GPUs; empty without
   * one, and on a host in vGPU mode (see {@link #vgpuPartitions()}).
   */
  public Optional<PartitionContext> partitions() {
    return fabric.isEmpty() || fabricVgpuMode() ? Optional.empty()
        : Optional.of(new PartitionContext(fabricManager(), moduleIds()));
  }

  /**
   * On a host whose Fabric Manager runs in vGPU mode: the Fabric Manager and module ids the vGPU
   * provisioner activates partitions with; empty otherwise.
   */
  public Optional<PartitionContext> vgpuPartitions() {
    return fabricVgpuMode() ? Optional.of(new PartitionContext(fabricManager(), moduleIds()))
        : Optional.empty();
  }

  /**
   * The vGPU provisioner of this host: its sysfs, programs ({@code nvidia-smi vgpu}) and ledger,
   * and, on a host in Fabric Manager vGPU mode, its partitions ({@link
   * VgpuProvisioner#withFabric}).
   */
  public VgpuProvisioner vgpuProvisioner() {
    VgpuProvisioner p = VgpuProvisioner.on(
        VgpuDevices.on(sysfs(), commands()), ledger());
    Optional<PartitionContext> context = vgpuPartitions();
    return context.isPresent() ? p.withFabric(context.get()) : p;
  }

  /** The host's lease ledger (opening it creates nothing). */
  public LeaseLedger ledger() {
    checkOpen();
    if (ledger == null) {
      ledger = LeaseLedger.open(stateDirectory);
    }
    return ledger;
  }

  /** The VM planner provisioning uses; empty when none was given or found. */
  public Optional<VmPlanner> vmPlanner() {
    return vmPlanner;
  }

  /**
   * A provisioner builder already given this host's sysfs, ledger, VM planner and, on a shared
   * NVSwitch host, its partitions (which connects the Fabric Manager and loads or discovers the
   * module ids), for callers who set more ({@code gpuDriverPolicy}, {@code listener},
   * {@code resetBeforeBind}, their own {@code vmPlanner}).
   */
  public Provisioner.Builder provisionerBuilder() {
    Provisioner.Builder builder = Provisioner.builder(sysfs(), ledger());
    partitions().ifPresent(builder::partitions);
    if (fabricVgpuMode()) {
      builder.vgpuProvisioner(vgpuProvisioner()).fabricVgpuMode();
    }
    vmPlanner.ifPresent(builder::vmPlanner);
    return builder;
  }

  /** A provisioner with the defaults, wired to this host. */
  public Provisioner provisioner() {
    return provisionerBuilder().build();
  }

  /** The VFIO binder of this host (for callers that bind outside a lease: prefer the provisioner). */
  public VfioBinder binder() {
    return VfioBinder.on(sysfs());
  }

  /** Examines whether the host is ready for passthrough, for GPUs rebound per VM. */
  public ReadinessReport doctor() {
    return doctor(GpuDriverPolicy.REBIND_PER_VM);
  }

  /** Examines whether the host is ready for passthrough under this GPU driver policy. */
  public ReadinessReport doctor(GpuDriverPolicy policy) {
    return HostDoctor.examine(sysfs(), policy);
  }

  private FabricManagerBinding requireFabric() {
    return fabric.orElseThrow(() -> new NoFabricManagerException("no Fabric Manager on this host ("
        + describe() + "): it is not in shared NVSwitch mode (fabricmanager.cfg FABRIC_MODE=1),"
        + " so it has no partitions; its GPUs are provisioned by whole IOMMU groups"));
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("this GpuHost (" + describe() + ") is closed");
    }
  }

  /** Closes the Fabric Manager connection, if one was made. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (fabricManager != null) {
      fabricManager.close();
    }
  }

  @Override
  public String toString() {
    return "GpuHost[" + describe() + ", state " + stateDirectory + ", Fabric Manager "
        + fabricManagerDescription().orElse("none") + "]";
  }

  private static <T> List<T> loadAll(Class<T> service) {
    List<T> all = new ArrayList<>();
    ServiceLoader.load(service, GpuHost.class.getClassLoader()).forEach(all::add);
    return all;
  }

  /** Builds {@link GpuHost}s; each setting replaces what the host would have chosen itself. */
  public static final class Builder {
    private final Path root;
    private Optional<Path> stateDirectory = Optional.empty();
    private Optional<HostEnvironment> environment = Optional.empty();
    private Optional<List<HostProvider>> hostProviders = Optional.empty();
    private Optional<List<FabricManagerProvider>> fabricProviders = Optional.empty();
    private Optional<FabricManagerBinding> fabric = Optional.empty();
    private boolean noFabric;
    private Optional<VmPlanner> vmPlanner = Optional.empty();

    private Builder(Path root) {
      this.root = Objects.requireNonNull(root, "root");
    }

    /** The state directory (default {@link GpuHost#defaultStateDirectory(Path)}). */
    public Builder stateDirectory(Path value) {
      Objects.requireNonNull(value, "stateDirectory");
      if (value.toString().isEmpty()) {
        throw new InvalidValueException("the state directory is empty; give a directory");
      }
      this.stateDirectory = Optional.of(value);
      return this;
    }

    /** How to reach the host, instead of asking the {@link HostProvider} services. */
    public Builder environment(HostEnvironment value) {
      this.environment = Optional.of(Objects.requireNonNull(value, "environment"));
      return this;
    }

    /** The host providers to ask, instead of those {@link ServiceLoader} finds. */
    public Builder hostProviders(List<HostProvider> value) {
      this.hostProviders = Optional.of(List.copyOf(value));
      return this;
    }

    /** The Fabric Manager providers to ask, instead of those {@link ServiceLoader} finds. */
    public Builder fabricManagerProviders(List<FabricManagerProvider> value) {
      this.fabricProviders = Optional.of(List.copyOf(value));
      return this;
    }

    /** This Fabric Manager, whatever the host has. */
    public Builder fabricManager(FabricManagerBinding value) {
      this.fabric = Optional.of(Objects.requireNonNull(value, "fabricManager"));
      this.noFabric = false;
      return this;
    }

    /** No Fabric Manager, whatever the host has: provisioning by whole IOMMU groups. */
    public Builder noFabricManager() {
      this.fabric = Optional.empty();
      this.noFabric = true;
      return this;
    }

    /** This VM planner, instead of the {@link VmPlanner} service {@link ServiceLoader} finds. */
    public Builder vmPlanner(VmPlanner value) {
      this.vmPlanner = Optional.of(Objects.requireNonNull(value, "vmPlanner"));
      return this;
    }

    /**
     * Opens the host: checks the root, finds how to reach it and chooses its Fabric Manager.
     * Connects nothing and writes nothing.
     *
     * @throws InvalidValueException when the root is empty
     * @throws io.gpuvirt.core.GpuvirtException when it is not a sysfs tree, or its Fabric Manager
     *     configuration cannot be read
     */
    public GpuHost open() {
      HostEnvironment env = environment.orElseGet(() -> GpuHost.environment(root,
          hostProviders.orElseGet(() -> loadAll(HostProvider.class))));
      Optional<FabricManagerBinding> chosen = fabric;
      if (chosen.isEmpty() && !noFabric) {
        List<FabricManagerProvider> providers = new ArrayList<>(
            fabricProviders.orElseGet(() -> loadAll(FabricManagerProvider.class)));
        providers.sort(Comparator.comparingInt(FabricManagerProvider::priority).reversed());
        for (FabricManagerProvider provider : providers) {
          chosen = provider.bind(env);
          if (chosen.isPresent()) {
            break;
          }
        }
      }
      Optional<VmPlanner> planner = vmPlanner.isPresent() ? vmPlanner
          : loadAll(VmPlanner.class).stream().findFirst();
      return new GpuHost(env, stateDirectory.orElseGet(() -> defaultStateDirectory(env.root())),
          chosen, planner);
    }
  }
}
