package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.fabric.FabricManager;
import io.gpuvirt.core.fabric.FabricManagerException;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.pci.PciAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * A client connection to a {@link SimulatedFabric}: the {@link FabricManager} port with the rules
 * and return codes of the real thing. Obtain one with {@link SimulatedFabric#connect()}.
 */
final class SimulatedFabricManager implements FabricManager {
  /** libnvfm's VF list holds at most FM_MAX_NUM_GPUS entries. */
  private static final int MAX_VFS = 16;
  private final SimulatedFabric fabric;
  private volatile boolean closed;

  SimulatedFabricManager(SimulatedFabric fabric) {
    this.fabric = fabric;
  }

  @Override
  public List<FabricPartition> listPartitions() {
    return call("list partitions", FabricOperation.LIST, FabricState::listing);
  }

  @Override
  public void activate(int partitionId) {
    String op = "activate partition " + partitionId;
    FmReturnCode code = call(op, FabricOperation.ACTIVATE,
        s -> s.activate(partitionId, Optional.empty()));
    check(op, code);
  }

  @Override
  public void activateWithVirtualFunctions(int partitionId, List<PciAddress> virtualFunctions) {
    String op = "activate partition " + partitionId + " with VFs " + virtualFunctions;
    List<PciAddress> vfs = List.copyOf(virtualFunctions);
    if (vfs.size() > MAX_VFS) {
      throw fabric.refusal(op, FmReturnCode.BADPARAM);
    }
    FmReturnCode code = call(op, FabricOperation.ACTIVATE,
        s -> s.activate(partitionId, Optional.of(vfs)));
    check(op, code);
  }

  @Override
  public void deactivate(int partitionId) {
    String op = "deactivate partition " + partitionId;
    FmReturnCode code = call(op, FabricOperation.DEACTIVATE, s -> s.deactivate(partitionId));
    check(op, code);
  }

  @Override
  public void setActivatedPartitions(Collection<Integer> partitionIds) {
    List<Long> ids = new ArrayList<>();
    partitionIds.forEach(id -> ids.add((long) id));
    String op = "set activated partitions " + partitionIds;
    if (ids.size() > FabricState.MAX_PARTITIONS || ids.stream().distinct().count() != ids.size()
        || ids.stream().anyMatch(id -> id < 0 || id >= FabricState.MAX_PARTITIONS)) {
      throw fabric.refusal(op, FmReturnCode.BADPARAM);
    }
    FmReturnCode code = call(op, FabricOperation.SET_ACTIVATED, s -> s.setActivated(ids));
    check(op, code);
  }

  @Override
  public List<Integer> unsupportedPartitionIds() {
    return call("list unsupported partitions", FabricOperation.UNSUPPORTED,
        s -> List.copyOf(s.unsupported));
  }

  @Override
  public NvlinkFailedDevices nvlinkFailedDevices() {
    return call("get NVLink failed devices", FabricOperation.NVLINK_FAILED,
        FabricState::nvlinkFailed);
  }

  @Override
  public void close() {
    closed = true;
  }

  private <T> T call(String operation, FabricOperation op, Function<FabricState, T> work) {
    if (closed) {
      throw fabric.refusal(operation + " (connection closed)", FmReturnCode.CONNECTION_NOT_VALID);
    }
    Object result = fabric.transact(s -> {
      FabricState.Gate gate = s.gate(op, fabric.now());
      return gate.ok() ? work.apply(s) : gate;
    });
    if (result instanceof FabricState.Gate gate) {
      throw fabric.refusal(operation, gate.code());
    }
    @SuppressWarnings("unchecked")
    T t = (T) result;
    return t;
  }

  private void check(String operation, FmReturnCode code) {
    if (code != FmReturnCode.SUCCESS) {
      throw fabric.refusal(operation, code);
    }
  }

  @Override
  public String toString() {
    return "client of " + fabric;
  }
}
