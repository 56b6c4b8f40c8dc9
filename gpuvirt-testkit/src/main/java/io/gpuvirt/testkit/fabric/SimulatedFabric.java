package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.ModuleIdMap;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * A simulated NVIDIA Fabric Manager daemon: its partition table, which partitions are active, where
 * it is in its life (running, starting, waiting after a restart, stopped) and the faults it will
 * inject. It can be stopped, started slowly and restarted on purpose, like a test server.
 *
 * <p>The state lives in one JSON file guarded by a file lock ({@code <file>.lock}), so every client
 * sees the same Fabric Manager, across processes and across reopening: the Java client
 * {@link #connect()}, the fake {@code fmpm} ({@link #fmpm()}) and the simulated {@code libnvfm.so.1}
 * built by {@link SimulatedNvfmLibrary}, which takes the state file as its Unix-socket address.
 *
 * <pre>{@code
 * SimulatedFabric fabric = SimulatedFabric.create(dir.resolve("fm.json"), FabricTable.hgxB200(),
 *     SimulatedGpu.hgxB200());
 * try (FabricManager fm = fabric.connect()) {
 *   fm.activate(4);                       // module ids 1 and 2
 *   fm.activate(2);                       // FabricManagerException: IN_USE (overlaps 4)
 * }
 * fabric.restartInResiliencyMode(Duration.ofSeconds(60));  // refuses all but set-activated
 * }</pre>
 */
public final class SimulatedFabric {
  /** Where {@link #underHostRoot(Path)} keeps the state, relative to a simulated host's root. */
  public static final String STATE_PATH = "var/lib/gpuvirt-sim/fabricmanager.json";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();

  private final Path stateFile;

  private SimulatedFabric(Path stateFile) {
    this.stateFile = stateFile.toAbsolutePath().normalize();
  }

  /**
   * Creates (or replaces) a running Fabric Manager in shared NVSwitch mode with no active
   * partition.
   *
   * @param stateFile the JSON file to keep the state in; its directory is created
   * @param table the partitions it supports
   * @param gpus the baseboard GPUs, for {@code nvidia-smi} and NVLink reports
   */
  public static SimulatedFabric create(Path stateFile, FabricTable table, List<SimulatedGpu> gpus) {
    Set<Integer> boardIds = new java.util.TreeSet<>();
    for (SimulatedGpu g : gpus) {
      if (!boardIds.add(g.moduleId())) {
        throw new InvalidValueException("module id " + g.moduleId() + " is given to two GPUs");
      }
    }
    if (!boardIds.containsAll(table.moduleIds())) {
      throw new InvalidValueException("the " + table.platform() + " table names module ids "
          + table.moduleIds() + " but the GPUs have " + boardIds);
    }
    FabricState s = new FabricState();
    s.platform = table.platform();
    s.partitions.addAll(table.partitions());
    s.gpus.addAll(gpus);
    SimulatedFabric fabric = new SimulatedFabric(stateFile);
    fabric.lockAnd(() -> {
      fabric.write(s);
      return null;
    });
    return fabric;
  }

  /** A simulated HGX B200 Fabric Manager ({@link FabricTable#hgxB200()}, {@link SimulatedGpu#hgxB200()}). */
  public static SimulatedFabric hgxB200(Path stateFile) {
    return create(stateFile, FabricTable.hgxB200(), SimulatedGpu.hgxB200());
  }

  /** A simulated HGX H100 Fabric Manager ({@link FabricTable#hgxH100()}, {@link SimulatedGpu#hgxH100()}). */
  public static SimulatedFabric hgxH100(Path stateFile) {
    return create(stateFile, FabricTable.hgxH100(), SimulatedGpu.hgxH100());
  }

  /**
   * Opens the Fabric Manager kept in {@code stateFile}.
   *
   * @throws GpuvirtException when there is none, or the file is not a valid state
   */
  public static SimulatedFabric open(Path stateFile) {
    SimulatedFabric fabric = new SimulatedFabric(stateFile);
    fabric.transact(s -> null);
    return fabric;
  }

  /**
   * The Fabric Manager of the simulated host rooted at {@code hostRoot}, kept in
   * {@value #STATE_PATH}; a simulated HGX B200 one is created there if there is none, whatever the
   * host. {@link #ofHost(io.gpuvirt.testkit.SimulatedHost)} gives a host its own, per profile.
   */
  public static SimulatedFabric underHostRoot(Path hostRoot) {
    Path file = hostRoot.resolve(STATE_PATH);
    SimulatedFabric fabric = new SimulatedFabric(file);
    boolean exists = fabric.lockAnd(() -> Files.exists(file));
    return exists ? open(file) : hgxB200(file);
  }

  /**
   * The Fabric Manager of a simulated host, per its profile: empty unless the profile sets
   * {@code FABRIC_MODE=1} (shared NVSwitch) or {@code FABRIC_MODE=2} (vGPU mode) or a simulated Fabric Manager was already written under
   * its root ({@value #STATE_PATH}), which is then used as it is. Otherwise it is created there on
   * first use from the profile: the default partition table of its baseboard (HGX B200 for B200
   * GPUs, HGX H100 for H100 SXM GPUs) and its GPUs with their module ids.
   *
   * @throws GpuvirtException when the profile sets FABRIC_MODE=1 or 2 on GPUs whose partition table the
   *     testkit does not know; write one with {@link #create(Path, FabricTable, List)}
   */
  public static java.util.Optional<SimulatedFabric> ofHost(io.gpuvirt.testkit.SimulatedHost host) {
    Path file = host.root().resolve(STATE_PATH);
    SimulatedFabric fabric = new SimulatedFabric(file);
    boolean exists = fabric.lockAnd(() -> Files.exists(file));
    if (exists) {
      return java.util.Optional.of(open(file));
    }
    io.gpuvirt.testkit.HostProfile profile = host.profile();
    int mode = profile.fabricMode().orElse(0);
    if (mode != 1 && mode != 2) {
      return java.util.Optional.empty();
    }
    List<SimulatedGpu> gpus = new java.util.ArrayList<>();
    java.util.Set<Integer> deviceIds = new java.util.TreeSet<>();
    for (io.gpuvirt.testkit.DeviceSpec d : profile.devices()) {
      if (d.moduleId().isPresent()) {
        int deviceId = d.id().device();
        deviceIds.add(deviceId);
        gpus.add(SimulatedGpu.of(d.moduleId().getAsInt(), d.address(),
            deviceId == SimulatedGpu.B200_DEVICE_ID ? "NVIDIA B200"
                : deviceId == SimulatedGpu.H100_DEVICE_ID ? "NVIDIA H100 80GB HBM3"
                : "NVIDIA GPU " + Integer.toHexString(deviceId), deviceId));
      }
    }
    FabricTable table;
    if (deviceIds.equals(java.util.Set.of(SimulatedGpu.B200_DEVICE_ID))) {
      table = FabricTable.hgxB200();
    } else if (deviceIds.equals(java.util.Set.of(SimulatedGpu.H100_DEVICE_ID))) {
      table = FabricTable.hgxH100();
    } else {
      throw new GpuvirtException("simulated host " + profile.name() + " at " + host.root()
          + " sets FABRIC_MODE=" + mode + ", but the testkit has no partition table for its GPUs"
          + " (device ids "
          + deviceIds + " with module ids); write one with SimulatedFabric.create(ROOT/"
          + STATE_PATH + ", table, gpus)");
    }
    SimulatedFabric created = create(file, table, gpus);
    if (mode != 1) {
      created.setFabricMode(mode);
    }
    return java.util.Optional.of(created);
  }

  /** The JSON state file; also the Unix-socket address of the simulated libnvfm. */
  public Path stateFile() {
    return stateFile;
  }

  // ---- clients ----------------------------------------------------------------------------------

  /**
   * Connects a client that speaks to this Fabric Manager directly.
   *
   * @throws FabricManagerException with CONNECTION_NOT_VALID when it is stopped, or an injected
   *     CONNECT fault
   */
  public FabricManager connect() {
    FabricState.Gate gate = transact(s -> s.gate(FabricOperation.CONNECT, now()));
    if (!gate.ok()) {
      throw new FabricManagerException("connect to simulated Fabric Manager " + stateFile,
          gate.code(), gate.code().meaning());
    }
    return new SimulatedFabricManager(this);
  }

  /** A fake {@code fmpm} that drives this Fabric Manager, for a {@code CommandRunner} seam. */
  public FakeFmpm fmpm() {
    return new FakeFmpm(this);
  }

  /**
   * A fake {@code nvidia-smi -q} listing this Fabric Manager's GPUs (all of them, as on a host
   * whose GPUs are all on the nvidia driver) in the 580 {@code Platform Info} format.
   */
  public FakeNvidiaSmi nvidiaSmi() {
    return new FakeNvidiaSmi(this::gpus, driverVersion(), NvidiaSmiFormat.PLATFORM_INFO);
  }

  // ---- controls ---------------------------------------------------------------------------------

  /** Stops it: connections and calls are refused with CONNECTION_NOT_VALID. */
  public void stop() {
    mutate(s -> s.phase = FabricPhase.STOPPED);
  }

  /** Starts it without restart mode: Fabric Manager starts afresh with no active partition. */
  public void start() {
    mutate(s -> {
      s.phase = FabricPhase.RUNNING;
      s.restartMode = false;
      s.active.clear();
    });
  }

  /** Starts it afresh but still initialising: calls are refused with NOT_CONFIGURED. */
  public void startSlowly() {
    mutate(s -> {
      s.phase = FabricPhase.STARTING;
      s.restartMode = false;
      s.active.clear();
    });
  }

  /** Ends the initialisation begun by {@link #startSlowly()}. */
  public void finishStarting() {
    mutate(s -> {
      if (s.phase == FabricPhase.STARTING) {
        s.phase = FabricPhase.RUNNING;
      }
    });
  }

  /**
   * Restarts it in restart (resiliency) mode ({@code --restart}, {@code FABRIC_MODE_RESTART=1}):
   * until the hypervisor calls set-activated, everything else is refused with NOT_CONFIGURED; if
   * {@code deadline} passes first, Fabric Manager exits (CONNECTION_NOT_VALID). The partitions
   * active before stay programmed, and the list decides which Fabric Manager counts as active. As
   * long as this Fabric Manager runs, NVLink-failed queries are refused with NOT_SUPPORTED (the
   * Fabric Manager User Guide: unsupported in {@code --restart} mode).
   */
  public void restartInResiliencyMode(Duration deadline) {
    long until = now() + deadline.toMillis();
    mutate(s -> {
      s.phase = FabricPhase.AWAITING_ACTIVATED_LIST;
      s.restartMode = true;
      s.restartDeadlineEpochMs = until;
    });
  }

  /** Lets the restart deadline pass now: the next call finds Fabric Manager exited. */
  public void expireRestartDeadline() {
    long past = now() - 1;
    mutate(s -> s.restartDeadlineEpochMs = past);
  }

  /**
   * Sets {@code FABRIC_MODE}: 1 is shared NVSwitch mode, 2 vGPU mode (partitions activated with
   * VF lists only); anything else refuses partition calls.
   */
  public void setFabricMode(int mode) {
    mutate(s -> s.fabricMode = mode);
  }

  /** Answers like another Fabric Manager release line. */
  public void setGeneration(FmGeneration generation) {
    mutate(s -> s.generation = generation);
  }

  /** The TCP address it listens on ({@code 127.0.0.1:6666} by default). */
  public void setTcpAddress(String hostAndPort) {
    mutate(s -> s.tcpAddress = hostAndPort);
  }

  /** The host driver version {@code nvidia-smi} reports (and Fabric Manager matches). */
  public void setDriverVersion(String version) {
    mutate(s -> s.driverVersion = version);
  }

  /** Marks partitions unsupported (degraded GPUs): listed as such, activation NOT_SUPPORTED. */
  public void markUnsupported(int... partitionIds) {
    mutate(s -> {
      for (int id : partitionIds) {
        if (s.partition(id).isEmpty()) {
          throw new InvalidValueException("no partition " + id + " in " + s.platform);
        }
        s.unsupported.add(id);
      }
    });
  }

  /**
   * Reports these devices with failed NVLinks (at most 16 GPUs and 12 NVSwitches with 64 ports
   * each, UUIDs below 80 and bus ids below 32 characters, as libnvfm's arrays hold).
   */
  public void failNvlinks(NvlinkFailedDevices devices) {
    if (devices.gpus().size() > 16 || devices.switches().size() > 12) {
      throw new InvalidValueException("libnvfm reports at most 16 GPUs and 12 NVSwitches, not "
          + devices.gpus().size() + " and " + devices.switches().size());
    }
    for (var d : concat(devices.gpus(), devices.switches())) {
      if (d.failedPorts().size() > 64 || d.uuid().length() >= 80 || d.pciBusId().length() >= 32) {
        throw new InvalidValueException("failed device " + d + " does not fit libnvfm's arrays");
      }
    }
    mutate(s -> {
      s.failedGpus = new java.util.ArrayList<>(devices.gpus());
      s.failedSwitches = new java.util.ArrayList<>(devices.switches());
    });
  }

  /** Injects a fault into the next calls of its operation (faults fire in injection order). */
  public void inject(FabricFault fault) {
    mutate(s -> s.faults.add(new FabricState.FaultEntry(fault.operation(), fault.kind(),
        fault.returnCode(), fault.times())));
  }

  /** Removes every injected fault. */
  public void clearFaults() {
    mutate(s -> s.faults.clear());
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> all = new java.util.ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  // ---- queries ----------------------------------------------------------------------------------

  /** The ids of the active partitions, sorted. */
  public List<Integer> activePartitionIds() {
    return transact(s -> List.copyOf(s.active));
  }

  /**
   * vGPU mode: the virtual functions partition {@code partitionId} was activated with, in the
   * order given; empty when it is inactive or was activated without VFs.
   */
  public List<PciAddress> activeVirtualFunctions(int partitionId) {
    return transact(s -> s.activeVfs.getOrDefault(partitionId, List.of()));
  }

  /** Where it is in its life. */
  public FabricPhase phase() {
    return transact(s -> {
      s.exitIfRestartDeadlinePassed(now());
      return s.phase;
    });
  }

  /** Its partition table. */
  public FabricTable table() {
    return transact(s -> new FabricTable(s.platform, s.partitions));
  }

  /** Its baseboard GPUs. */
  public List<SimulatedGpu> gpus() {
    return transact(s -> List.copyOf(s.gpus));
  }

  /**
   * The module-id map of its baseboard GPUs, what {@code gpuvirt module-ids} discovers on this
   * simulated host (for tests that need the map without running discovery).
   */
  public ModuleIdMap moduleIdMap() {
    Map<Integer, io.gpuvirt.core.pci.PciAddress> byModuleId = new java.util.TreeMap<>();
    gpus().forEach(g -> byModuleId.put(g.moduleId(), g.address()));
    return new ModuleIdMap(byModuleId);
  }

  /** The host driver version. */
  public String driverVersion() {
    return transact(s -> s.driverVersion);
  }

  /** Every {@code fmConnect} the simulated libnvfm received, oldest first. */
  public List<ConnectAttempt> connectAttempts() {
    return transact(s -> List.copyOf(s.connectAttempts));
  }

  // ---- state file -------------------------------------------------------------------------------

  long now() {
    return System.currentTimeMillis();
  }

  private void mutate(java.util.function.Consumer<FabricState> change) {
    transact(s -> {
      change.accept(s);
      return null;
    });
  }

  /**
   * Runs {@code work} on the current state under the lock and writes the state back, so a read,
   * a rule and a write are one step for every process that shares the file.
   */
  <T> T transact(Function<FabricState, T> work) {
    return lockAnd(() -> {
      FabricState s = read();
      T result = work.apply(s);
      write(s);
      return result;
    });
  }

  private <T> T lockAnd(java.util.function.Supplier<T> work) {
    ReentrantLock jvm = LOCKS.computeIfAbsent(stateFile, p -> new ReentrantLock());
    jvm.lock();
    try {
      Path lockFile = stateFile.resolveSibling(stateFile.getFileName() + ".lock");
      Files.createDirectories(stateFile.getParent());
      try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE,
          StandardOpenOption.WRITE)) {
        FileLock lock = ch.lock();
        try {
          return work.get();
        } finally {
          lock.release();
        }
      }
    } catch (IOException e) {
      throw new HostAccessException(stateFile.toString(), "could not lock the simulated Fabric "
          + "Manager state " + stateFile + ": " + e.getMessage(), e);
    } finally {
      jvm.unlock();
    }
  }

  private FabricState read() {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(stateFile);
    } catch (NoSuchFileException e) {
      throw new GpuvirtException("no simulated Fabric Manager at " + stateFile
          + "; create one with SimulatedFabric.create or hgxB200");
    } catch (IOException e) {
      throw new HostAccessException(stateFile.toString(), "could not read the simulated Fabric "
          + "Manager state " + stateFile + ": " + e.getMessage(), e);
    }
    try {
      JsonNode root = JSON.readTree(bytes);
      return FabricState.fromJson(root);
    } catch (IOException | RuntimeException e) {
      throw new GpuvirtException("the simulated Fabric Manager state " + stateFile
          + " is corrupt: " + e.getMessage() + "; delete it to start afresh", e);
    }
  }

  private void write(FabricState s) {
    try {
      Path tmp = stateFile.resolveSibling(stateFile.getFileName() + ".tmp");
      Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(s.toJson())
          + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, stateFile, StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new HostAccessException(stateFile.toString(), "could not write the simulated Fabric "
          + "Manager state " + stateFile + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "simulated Fabric Manager " + stateFile;
  }

  /** A code as the exception every simulated client raises for it. */
  FabricManagerException refusal(String operation, FmReturnCode code) {
    return new FabricManagerException(operation, code, code.meaning() + " (" + this + ")");
  }
}
