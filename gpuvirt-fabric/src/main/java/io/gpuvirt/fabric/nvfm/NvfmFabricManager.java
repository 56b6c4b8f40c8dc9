package io.gpuvirt.fabric.nvfm;

import io.gpuvirt.core.InvalidValueException;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.PointerByReference;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricManagerProtocolException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.NvlinkFailedDevice;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.fabric.PartitionGpu;
import io.gpuvirt.core.pci.PciAddress;
import io.gpuvirt.fabric.FmAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link FabricManager} port over NVIDIA's client library {@code libnvfm.so.1}, through JNA.
 *
 * <pre>{@code
 * try (NvfmFabricManager fm = NvfmFabricManager.connect(NvfmOptions.defaults())) {
 *   fm.listPartitions();
 *   fm.ensureActive(4);
 * }
 * }</pre>
 *
 * <p>Connecting sends the 610-series connect parameters (v2) first and falls back to v1 when the
 * library answers VERSION_MISMATCH or BADPARAM (535-series libraries know only v1). The library is
 * initialised once per process and shut down when the last connection closes. Calls on one
 * connection are serialised; connections may be used from any thread. Every struct's
 * {@code version} is set before each call.
 */
public final class NvfmFabricManager implements FabricManager {
  private static final Logger LOG = LoggerFactory.getLogger(NvfmFabricManager.class);

  private final NvfmLibraries.Loaded library;
  private final NvfmOptions options;
  private final int connectVersion;
  private final ReentrantLock lock = new ReentrantLock();
  private Pointer handle;

  private NvfmFabricManager(NvfmLibraries.Loaded library, NvfmOptions options, Pointer handle,
      int connectVersion) {
    this.library = library;
    this.options = options;
    this.handle = handle;
    this.connectVersion = connectVersion;
  }

  /**
   * Loads the library and connects to Fabric Manager.
   *
   * @throws FabricManagerException with the return code when Fabric Manager refuses the connection
   *     (CONNECTION_NOT_VALID when nothing listens, VERSION_MISMATCH for a library that fits neither
   *     parameter version)
   * @throws FabricManagerProtocolException when the library cannot be loaded
   */
  public static NvfmFabricManager connect(NvfmOptions options) {
    NvfmLibraries.Loaded loaded = NvfmLibraries.acquire(options.library());
    try {
      String op = "connect to Fabric Manager at " + options.address() + " through "
          + options.library();
      PointerByReference out = new PointerByReference();
      int rc = connectWith(loaded.lib, v2(options), out);
      int version = NvfmStructs.CONNECT_PARAMS_V2_VERSION;
      if (rc == FmReturnCode.VERSION_MISMATCH.code() || rc == FmReturnCode.BADPARAM.code()) {
        LOG.debug("{}: v2 connect parameters refused with {}, retrying with v1", op, rc);
        out = new PointerByReference();
        rc = connectWith(loaded.lib, v1(options), out);
        version = NvfmStructs.CONNECT_PARAMS_V1_VERSION;
      }
      if (rc != 0) {
        throw failure(op, rc);
      }
      if (out.getValue() == null) {
        throw new FabricManagerProtocolException(op, "fmConnect returned success but no handle");
      }
      return new NvfmFabricManager(loaded, options, out.getValue(), version);
    } catch (RuntimeException e) {
      NvfmLibraries.release(loaded);
      throw e;
    }
  }

  private static int connectWith(NvfmLibrary lib, Structure params, PointerByReference out) {
    params.write();
    return lib.fmConnect(params.getPointer(), out);
  }

  private static NvfmStructs.ConnectParamsV2 v2(NvfmOptions o) {
    NvfmStructs.ConnectParamsV2 p = new NvfmStructs.ConnectParamsV2();
    p.version = NvfmStructs.CONNECT_PARAMS_V2_VERSION;
    copyString(o.address().value(), p.addressInfo);
    p.timeoutMs = (int) o.timeout().toMillis();
    boolean unix = o.address().kind() == FmAddress.Kind.UNIX;
    p.addressIsUnixSocket = unix ? 1 : 0;
    p.addressType = unix ? NvfmStructs.ADDR_TYPE_UNIX : NvfmStructs.ADDR_TYPE_INET;
    return p;
  }

  private static NvfmStructs.ConnectParamsV1 v1(NvfmOptions o) {
    NvfmStructs.ConnectParamsV1 p = new NvfmStructs.ConnectParamsV1();
    p.version = NvfmStructs.CONNECT_PARAMS_V1_VERSION;
    copyString(o.address().value(), p.addressInfo);
    p.timeoutMs = (int) o.timeout().toMillis();
    p.addressIsUnixSocket = o.address().kind() == FmAddress.Kind.UNIX ? 1 : 0;
    return p;
  }

  private static void copyString(String value, byte[] into) {
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    if (bytes.length >= into.length) {
      throw new InvalidValueException("'" + value + "' does not fit in " + into.length
          + " bytes");
    }
    System.arraycopy(bytes, 0, into, 0, bytes.length);
  }

  /** The connect parameter version word Fabric Manager accepted (v2 or v1). */
  public int connectParamsVersion() {
    return connectVersion;
  }

  /** The options this connection was made with. */
  public NvfmOptions options() {
    return options;
  }

  @Override
  public List<FabricPartition> listPartitions() {
    String op = "list partitions";
    return call(op, h -> {
      // 131852 bytes of zeroed memory; only the version is written, and only the entries the
      // library filled in are read (a full JNA read of 1088 nested structs costs milliseconds).
      NvfmStructs.PartitionList list = new NvfmStructs.PartitionList();
      list.version = NvfmStructs.PARTITION_LIST_VERSION;
      list.writeField("version");
      check(op, library.lib.fmGetSupportedFabricPartitions(h, list.getPointer()));
      list.readField("numPartitions");
      int n = count(op, "numPartitions", list.numPartitions, NvfmStructs.MAX_FABRIC_PARTITIONS);
      List<FabricPartition> partitions = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        NvfmStructs.PartitionInfo info = list.partition(i);
        int gpus = count(op, "numGpus of partition " + Integer.toUnsignedString(info.partitionId),
            info.numGpus, NvfmStructs.MAX_NUM_GPUS);
        try {
          List<PartitionGpu> members = new ArrayList<>();
          for (int g = 0; g < gpus; g++) {
            NvfmStructs.PartitionGpuInfo gi = info.gpu(g);
            members.add(new PartitionGpu(gi.physicalId, gi.numNvLinksAvailable, gi.maxNumNvLinks,
                gi.nvlinkLineRateMBps));
          }
          partitions.add(new FabricPartition(info.partitionId, info.isActive != 0, members));
        } catch (IllegalArgumentException | InvalidValueException e) {
          throw new FabricManagerProtocolException(op, "libnvfm returned an invalid partition: "
              + e.getMessage(), e);
        }
      }
      partitions.sort(java.util.Comparator.comparingInt(FabricPartition::id));
      return List.copyOf(partitions);
    });
  }

  @Override
  public void activate(int partitionId) {
    String op = "activate partition " + partitionId;
    requirePartitionId(op, partitionId);
    call(op, h -> {
      check(op, library.lib.fmActivateFabricPartition(h, partitionId));
      return null;
    });
  }

  /**
   * Activates a partition for vGPU VMs ({@code FABRIC_MODE=2}) with the virtual functions that
   * will be used, in a stable order.
   */
  @Override
  public void activateWithVirtualFunctions(int partitionId, List<PciAddress> virtualFunctions) {
    String op = "activate partition " + partitionId + " with VFs " + virtualFunctions;
    requirePartitionId(op, partitionId);
    if (virtualFunctions.size() > NvfmStructs.MAX_NUM_GPUS) {
      throw new FabricManagerException(op, FmReturnCode.BADPARAM, "at most "
          + NvfmStructs.MAX_NUM_GPUS + " VFs fit libnvfm's list");
    }
    call(op, h -> {
      Pointer list = null;
      if (!virtualFunctions.isEmpty()) {
        NvfmStructs.PciDevice[] vfs = (NvfmStructs.PciDevice[]) new NvfmStructs.PciDevice()
            .toArray(virtualFunctions.size());
        for (int i = 0; i < vfs.length; i++) {
          PciAddress a = virtualFunctions.get(i);
          vfs[i].domain = a.domain();
          vfs[i].bus = a.bus();
          vfs[i].device = a.device();
          vfs[i].function = a.function();
          vfs[i].write();
        }
        list = vfs[0].getPointer();
      }
      check(op, library.lib.fmActivateFabricPartitionWithVFs(h, partitionId, list,
          virtualFunctions.size()));
      return null;
    });
  }

  @Override
  public void deactivate(int partitionId) {
    String op = "deactivate partition " + partitionId;
    requirePartitionId(op, partitionId);
    call(op, h -> {
      check(op, library.lib.fmDeactivateFabricPartition(h, partitionId));
      return null;
    });
  }

  @Override
  public void setActivatedPartitions(Collection<Integer> partitionIds) {
    String op = "set activated partitions " + partitionIds;
    List<Integer> ids = List.copyOf(partitionIds);
    if (ids.size() > NvfmStructs.MAX_FABRIC_PARTITIONS
        || new HashSet<>(ids).size() != ids.size()) {
      throw new FabricManagerException(op, FmReturnCode.BADPARAM, "the list must hold at most "
          + NvfmStructs.MAX_FABRIC_PARTITIONS + " distinct partition ids");
    }
    ids.forEach(id -> requirePartitionId(op, id));
    call(op, h -> {
      NvfmStructs.ActivatedPartitionList list = new NvfmStructs.ActivatedPartitionList();
      list.version = NvfmStructs.ACTIVATED_LIST_VERSION;
      list.numPartitions = ids.size();
      for (int i = 0; i < ids.size(); i++) {
        list.partitionIds[i] = ids.get(i);
      }
      list.write();
      check(op, library.lib.fmSetActivatedFabricPartitions(h, list.getPointer()));
      return null;
    });
  }

  @Override
  public List<Integer> unsupportedPartitionIds() {
    String op = "list unsupported partitions";
    return call(op, h -> {
      NvfmStructs.UnsupportedPartitionList list = new NvfmStructs.UnsupportedPartitionList();
      list.version = NvfmStructs.UNSUPPORTED_LIST_VERSION;
      list.write();
      check(op, library.lib.fmGetUnsupportedFabricPartitions(h, list.getPointer()));
      list.read();
      int n = count(op, "numPartitions", list.numPartitions, NvfmStructs.MAX_FABRIC_PARTITIONS);
      List<Integer> ids = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        ids.add(list.partitionInfo[i].partitionId);
      }
      return ids.stream().sorted().toList();
    });
  }

  @Override
  public NvlinkFailedDevices nvlinkFailedDevices() {
    String op = "get NVLink failed devices";
    return call(op, h -> {
      NvfmStructs.NvlinkFailedDevices d = new NvfmStructs.NvlinkFailedDevices();
      d.version = NvfmStructs.NVLINK_FAILED_DEVICES_VERSION;
      d.write();
      check(op, library.lib.fmGetNvlinkFailedDevices(h, d.getPointer()));
      d.read();
      int gpus = count(op, "numGpus", d.numGpus, NvfmStructs.MAX_NUM_GPUS);
      int switches = count(op, "numSwitches", d.numSwitches, NvfmStructs.MAX_NUM_NVSWITCHES);
      return new NvlinkFailedDevices(failed(op, d.gpuInfo, gpus),
          failed(op, d.switchInfo, switches));
    });
  }

  private static List<NvlinkFailedDevice> failed(String op, NvfmStructs.NvlinkFailedDeviceInfo[] infos,
      int n) {
    List<NvlinkFailedDevice> devices = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      NvfmStructs.NvlinkFailedDeviceInfo info = infos[i];
      int ports = count(op, "numPorts", info.numPorts, NvfmStructs.MAX_NUM_NVLINK_PORTS);
      List<Integer> portNumbers = new ArrayList<>();
      for (int p = 0; p < ports; p++) {
        portNumbers.add(info.portNum[p]);
      }
      devices.add(new NvlinkFailedDevice(Native.toString(info.uuid, "UTF-8"),
          Native.toString(info.pciBusId, "UTF-8"), portNumbers));
    }
    return devices;
  }

  /** Disconnects and releases the library. Never throws; a second call does nothing. */
  @Override
  public void close() {
    lock.lock();
    try {
      if (handle == null) {
        return;
      }
      int rc = library.lib.fmDisconnect(handle);
      if (rc != 0) {
        LOG.debug("fmDisconnect from {} returned {}", options.address(), rc);
      }
      handle = null;
      NvfmLibraries.release(library);
    } catch (RuntimeException e) {
      LOG.warn("closing the Fabric Manager connection to {} failed: {}", options.address(),
          e.toString());
    } finally {
      lock.unlock();
    }
  }

  private interface Call<T> {
    T on(Pointer handle);
  }

  private <T> T call(String op, Call<T> work) {
    lock.lock();
    try {
      if (handle == null) {
        throw new FabricManagerException(op, FmReturnCode.CONNECTION_NOT_VALID,
            "this connection to " + options.address() + " is closed; connect again");
      }
      return work.on(handle);
    } finally {
      lock.unlock();
    }
  }

  private static void requirePartitionId(String op, int id) {
    if (id < 0 || id >= NvfmStructs.MAX_FABRIC_PARTITIONS) {
      throw new FabricManagerException(op, FmReturnCode.BADPARAM, "partition ids are 0 to "
          + (NvfmStructs.MAX_FABRIC_PARTITIONS - 1) + "; list them with 'gpuvirt partitions list'");
    }
  }

  private static int count(String op, String field, int value, int max) {
    if (value < 0 || value > max) {
      throw new FabricManagerProtocolException(op, "libnvfm returned " + field + " = "
          + Integer.toUnsignedString(value) + ", more than its arrays hold (" + max
          + "); the library does not match the headers gpuvirt was written against");
    }
    return value;
  }

  private static void check(String op, int rc) {
    if (rc != 0) {
      throw failure(op, rc);
    }
  }

  /** The exception for a non-zero {@code fmReturn_t}. */
  static GpuvirtException failure(String op, int rc) {
    Optional<FmReturnCode> code = FmReturnCode.fromCode(rc);
    if (code.isEmpty()) {
      return new FabricManagerProtocolException(op, "libnvfm returned " + rc
          + ", which no libnvfm header defines; check that libnvfm and nvidia-fabricmanager come "
          + "from the same release");
    }
    return new FabricManagerException(op, code.get(), code.get().meaning());
  }

  @Override
  public String toString() {
    return "libnvfm connection to " + options.address();
  }
}
