package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.NvlinkFailedDevice;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.fabric.PartitionGpu;
import io.gpuvirt.core.pci.PciAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The mutable state of one simulated Fabric Manager and the partition rules, mapped to and from the
 * JSON file that the Java simulation, the fake fmpm and the simulated libnvfm (C) all share. The C
 * library implements the same rules over the same file; keep the two in step (the contract suite in
 * gpuvirt-fabric checks that they are).
 */
final class FabricState {
  static final int FORMAT = 1;
  static final int MAX_PARTITIONS = 64;

  String platform;
  FmGeneration generation = FmGeneration.R610;
  int fabricMode = 1;
  FabricPhase phase = FabricPhase.RUNNING;
  long restartDeadlineEpochMs;
  /** Started with {@code --restart}: NVLink-failed queries are unsupported for its whole life. */
  boolean restartMode;
  String tcpAddress = "127.0.0.1:6666";
  String unixSocket = "";
  String driverVersion = "580.95.05";
  List<FabricPartition> partitions = new ArrayList<>();
  TreeSet<Integer> active = new TreeSet<>();
  /**
   * vGPU mode: the virtual functions each active partition was activated with, in the order
   * given (absent for partitions activated without VFs).
   */
  java.util.TreeMap<Integer, List<PciAddress>> activeVfs = new java.util.TreeMap<>();
  TreeSet<Integer> unsupported = new TreeSet<>();
  List<SimulatedGpu> gpus = new ArrayList<>();
  List<NvlinkFailedDevice> failedGpus = new ArrayList<>();
  List<NvlinkFailedDevice> failedSwitches = new ArrayList<>();
  List<FaultEntry> faults = new ArrayList<>();
  List<ConnectAttempt> connectAttempts = new ArrayList<>();

  /** A fault with its remaining count (-1 forever). */
  static final class FaultEntry {
    final FabricOperation operation;
    final FabricFault.Kind kind;
    final FmReturnCode code;
    int remaining;

    FaultEntry(FabricOperation operation, FabricFault.Kind kind, FmReturnCode code, int remaining) {
      this.operation = operation;
      this.kind = kind;
      this.code = code;
      this.remaining = remaining;
    }
  }

  // ---- rules ------------------------------------------------------------------------------------

  /**
   * The checks every call goes through, in this order: an expired restart deadline stops FM; a
   * stopped FM refuses connections; an injected fault fires; a starting FM, or one that waits for
   * the activated list, refuses everything but connect (and set-activated); FM in neither shared
   * NVSwitch mode (1) nor vGPU mode (2) refuses partition calls; FM started in restart mode refuses NVLink-failed
   * queries with NOT_SUPPORTED even after the list (FMUG: unsupported in {@code --restart} mode).
   *
   * @return the fault kind that fired (empty if none) and the code
   */
  Gate gate(FabricOperation op, long nowMs) {
    exitIfRestartDeadlinePassed(nowMs);
    if (phase == FabricPhase.STOPPED) {
      return new Gate(FmReturnCode.CONNECTION_NOT_VALID, false);
    }
    for (Iterator<FaultEntry> it = faults.iterator(); it.hasNext(); ) {
      FaultEntry f = it.next();
      if (f.operation == op) {
        if (f.remaining > 0 && --f.remaining == 0) {
          it.remove();
        }
        return new Gate(f.code, f.kind == FabricFault.Kind.HANG);
      }
    }
    if (op == FabricOperation.CONNECT) {
      return Gate.OK;
    }
    if (phase == FabricPhase.STARTING) {
      return new Gate(FmReturnCode.NOT_CONFIGURED, false);
    }
    if (phase == FabricPhase.AWAITING_ACTIVATED_LIST && op != FabricOperation.SET_ACTIVATED) {
      return new Gate(FmReturnCode.NOT_CONFIGURED, false);
    }
    if (fabricMode != 1 && fabricMode != 2) {
      return new Gate(FmReturnCode.NOT_SUPPORTED, false);
    }
    if (restartMode && op == FabricOperation.NVLINK_FAILED) {
      return new Gate(FmReturnCode.NOT_SUPPORTED, false);
    }
    return Gate.OK;
  }

  /** A Fabric Manager still waiting for the activated list when its deadline passes exits. */
  void exitIfRestartDeadlinePassed(long nowMs) {
    if (phase == FabricPhase.AWAITING_ACTIVATED_LIST && nowMs > restartDeadlineEpochMs) {
      phase = FabricPhase.STOPPED;
    }
  }

  /** The outcome of {@link #gate}. */
  record Gate(FmReturnCode code, boolean hang) {
    static final Gate OK = new Gate(FmReturnCode.SUCCESS, false);

    boolean ok() {
      return code == FmReturnCode.SUCCESS;
    }
  }

  Optional<FabricPartition> partition(long id) {
    return partitions.stream().filter(p -> p.id() == id).findFirst();
  }

  List<FabricPartition> listing() {
    return partitions.stream().map(p -> p.withActive(active.contains(p.id()))).toList();
  }

  /**
   * {@code fmActivateFabricPartition} (no VFs) or {@code fmActivateFabricPartitionWithVFs}. The
   * rules of vGPU mode are inferred (FABRIC.md §4.5 gives only the call and that it is required
   * before any vGPU VM starts): in vGPU mode a partition is activated only with VFs, one per GPU
   * of the partition, each named once; in shared NVSwitch mode only without; otherwise
   * NOT_SUPPORTED or BADPARAM. The activation rules (one active partition per GPU, an active id
   * refused) are those of shared NVSwitch mode in both.
   */
  FmReturnCode activate(long id, Optional<List<PciAddress>> vfs) {
    Optional<FabricPartition> p = partition(id);
    if (id < 0 || id >= MAX_PARTITIONS || p.isEmpty()) {
      return FmReturnCode.BADPARAM;
    }
    if (vfs.isPresent() != (fabricMode == 2)) {
      return FmReturnCode.NOT_SUPPORTED;
    }
    if (vfs.isPresent() && (vfs.get().size() != p.get().gpus().size()
        || new HashSet<>(vfs.get()).size() != vfs.get().size())) {
      return FmReturnCode.BADPARAM;
    }
    if (unsupported.contains((int) id)) {
      return FmReturnCode.NOT_SUPPORTED;
    }
    if (active.contains((int) id)) {
      return generation == FmGeneration.R610 ? FmReturnCode.PARTITION_ID_IN_USE
          : FmReturnCode.IN_USE;
    }
    for (int a : active) {
      if (partition(a).map(q -> q.overlaps(p.get())).orElse(false)) {
        return FmReturnCode.IN_USE;
      }
    }
    active.add((int) id);
    vfs.ifPresent(list -> activeVfs.put((int) id, List.copyOf(list)));
    return FmReturnCode.SUCCESS;
  }

  FmReturnCode deactivate(long id) {
    if (id < 0 || id >= MAX_PARTITIONS || partition(id).isEmpty()) {
      return FmReturnCode.BADPARAM;
    }
    if (!active.remove((int) id)) {
      return generation == FmGeneration.R610 ? FmReturnCode.PARTITION_ID_NOT_IN_USE
          : FmReturnCode.UNINITIALIZED;
    }
    activeVfs.remove((int) id);
    return FmReturnCode.SUCCESS;
  }

  /** Called after {@link #gate} let SET_ACTIVATED through. */
  FmReturnCode setActivated(Collection<Long> ids) {
    if (ids.size() > MAX_PARTITIONS) {
      return FmReturnCode.BADPARAM;
    }
    if (phase != FabricPhase.AWAITING_ACTIVATED_LIST) {
      return FmReturnCode.NOT_SUPPORTED;
    }
    Set<Integer> seen = new HashSet<>();
    List<FabricPartition> chosen = new ArrayList<>();
    for (long id : ids) {
      Optional<FabricPartition> p = partition(id);
      if (id < 0 || id >= MAX_PARTITIONS || p.isEmpty() || !seen.add((int) id)) {
        return FmReturnCode.BADPARAM;
      }
      for (FabricPartition q : chosen) {
        if (q.overlaps(p.get())) {
          return FmReturnCode.BADPARAM;
        }
      }
      chosen.add(p.get());
    }
    active.clear();
    seen.forEach(active::add);
    activeVfs.keySet().retainAll(seen);
    phase = FabricPhase.RUNNING;
    return FmReturnCode.SUCCESS;
  }

  NvlinkFailedDevices nvlinkFailed() {
    return new NvlinkFailedDevices(failedGpus, failedSwitches);
  }

  // ---- JSON -------------------------------------------------------------------------------------

  ObjectNode toJson() {
    JsonNodeFactory f = JsonNodeFactory.instance;
    ObjectNode root = f.objectNode();
    root.put("format", FORMAT);
    root.put("platform", platform);
    root.put("generation", generation.name());
    root.put("fabricMode", fabricMode);
    root.put("phase", phase.name());
    root.put("restartDeadlineEpochMs", restartDeadlineEpochMs);
    root.put("restartMode", restartMode);
    root.put("tcpAddress", tcpAddress);
    root.put("unixSocket", unixSocket);
    root.put("driverVersion", driverVersion);
    ArrayNode parts = root.putArray("partitions");
    for (FabricPartition p : partitions) {
      ObjectNode pn = parts.addObject();
      pn.put("id", p.id());
      ArrayNode gn = pn.putArray("gpus");
      for (PartitionGpu g : p.gpus()) {
        ObjectNode o = gn.addObject();
        o.put("moduleId", g.moduleId());
        o.put("nvlinksAvailable", g.nvlinksAvailable());
        o.put("maxNvlinks", g.maxNvlinks());
        o.put("lineRateMbps", g.nvlinkLineRateMbps());
      }
    }
    ArrayNode act = root.putArray("active");
    active.forEach(act::add);
    ArrayNode avf = root.putArray("activeVfs");
    activeVfs.forEach((id, list) -> {
      ObjectNode o = avf.addObject();
      o.put("partition", id);
      ArrayNode vs = o.putArray("vfs");
      list.forEach(vf -> vs.add(vf.toString()));
    });
    ArrayNode uns = root.putArray("unsupported");
    unsupported.forEach(uns::add);
    ArrayNode gs = root.putArray("gpus");
    for (SimulatedGpu g : gpus) {
      ObjectNode o = gs.addObject();
      o.put("moduleId", g.moduleId());
      o.put("pciBusId", g.address().toString());
      o.put("uuid", g.uuid());
      o.put("productName", g.productName());
      o.put("pciDeviceId", g.pciDeviceId());
    }
    writeFailed(root.putArray("nvlinkFailedGpus"), failedGpus);
    writeFailed(root.putArray("nvlinkFailedSwitches"), failedSwitches);
    ArrayNode fs = root.putArray("faults");
    for (FaultEntry e : faults) {
      ObjectNode o = fs.addObject();
      o.put("operation", e.operation.name());
      o.put("kind", e.kind.name());
      o.put("returnCode", e.code.code());
      o.put("remaining", e.remaining);
    }
    ArrayNode cs = root.putArray("connectAttempts");
    for (ConnectAttempt c : connectAttempts) {
      ObjectNode o = cs.addObject();
      o.put("version", c.version());
      o.put("addressInfo", c.addressInfo());
      o.put("timeoutMs", c.timeoutMs());
      o.put("addressIsUnixSocket", c.addressIsUnixSocket());
      o.put("addressType", c.addressType());
      o.put("returnCode", c.returnCode());
    }
    return root;
  }

  private static void writeFailed(ArrayNode into, List<NvlinkFailedDevice> devices) {
    for (NvlinkFailedDevice d : devices) {
      ObjectNode o = into.addObject();
      o.put("uuid", d.uuid());
      o.put("pciBusId", d.pciBusId());
      ArrayNode ports = o.putArray("ports");
      d.failedPorts().forEach(ports::add);
    }
  }

  /** Reads a state file's JSON; throws InvalidValueException naming what is wrong. */
  static FabricState fromJson(JsonNode root) {
    if (root == null || !root.isObject()) {
      throw new InvalidValueException("the state is not a JSON object");
    }
    if (integer(root, "format") != FORMAT) {
      throw new InvalidValueException("format " + root.get("format") + " is not " + FORMAT);
    }
    FabricState s = new FabricState();
    s.platform = text(root, "platform");
    s.generation = FmGeneration.valueOf(text(root, "generation"));
    s.fabricMode = (int) integer(root, "fabricMode");
    s.phase = FabricPhase.valueOf(text(root, "phase"));
    s.restartDeadlineEpochMs = integer(root, "restartDeadlineEpochMs");
    // absent in files written before the flag existed: not in restart mode
    JsonNode restart = root.get("restartMode");
    if (restart != null && !restart.isBoolean()) {
      throw new InvalidValueException("field \"restartMode\" is " + restart + ", not a boolean");
    }
    s.restartMode = restart != null && restart.booleanValue();
    s.tcpAddress = text(root, "tcpAddress");
    s.unixSocket = text(root, "unixSocket");
    s.driverVersion = text(root, "driverVersion");
    for (JsonNode pn : array(root, "partitions")) {
      List<PartitionGpu> gpus = new ArrayList<>();
      for (JsonNode g : array(pn, "gpus")) {
        gpus.add(new PartitionGpu((int) integer(g, "moduleId"), (int) integer(g, "nvlinksAvailable"),
            (int) integer(g, "maxNvlinks"), (int) integer(g, "lineRateMbps")));
      }
      s.partitions.add(new FabricPartition((int) integer(pn, "id"), false, gpus));
    }
    array(root, "active").forEach(n -> s.active.add(n.intValue()));
    // absent in files written before vGPU mode was simulated: no partition activated with VFs
    if (root.has("activeVfs")) {
      for (JsonNode a : array(root, "activeVfs")) {
        List<PciAddress> list = new ArrayList<>();
        array(a, "vfs").forEach(v -> list.add(PciAddress.parse(v.asText())));
        s.activeVfs.put((int) integer(a, "partition"), List.copyOf(list));
      }
    }
    array(root, "unsupported").forEach(n -> s.unsupported.add(n.intValue()));
    for (JsonNode g : array(root, "gpus")) {
      s.gpus.add(new SimulatedGpu((int) integer(g, "moduleId"),
          PciAddress.parse(text(g, "pciBusId")), text(g, "uuid"), text(g, "productName"),
          (int) integer(g, "pciDeviceId")));
    }
    readFailed(array(root, "nvlinkFailedGpus"), s.failedGpus);
    readFailed(array(root, "nvlinkFailedSwitches"), s.failedSwitches);
    for (JsonNode f : array(root, "faults")) {
      int code = (int) integer(f, "returnCode");
      s.faults.add(new FaultEntry(FabricOperation.valueOf(text(f, "operation")),
          FabricFault.Kind.valueOf(text(f, "kind")), FmReturnCode.fromCode(code).orElseThrow(
              () -> new InvalidValueException("unknown fault return code " + code)),
          (int) integer(f, "remaining")));
    }
    for (JsonNode c : array(root, "connectAttempts")) {
      s.connectAttempts.add(new ConnectAttempt(integer(c, "version"), text(c, "addressInfo"),
          integer(c, "timeoutMs"), integer(c, "addressIsUnixSocket"), integer(c, "addressType"),
          (int) integer(c, "returnCode")));
    }
    return s;
  }

  private static void readFailed(JsonNode array, List<NvlinkFailedDevice> into) {
    for (JsonNode d : array) {
      List<Integer> ports = new ArrayList<>();
      array(d, "ports").forEach(p -> ports.add(p.intValue()));
      into.add(new NvlinkFailedDevice(text(d, "uuid"), text(d, "pciBusId"), ports));
    }
  }

  private static JsonNode field(JsonNode o, String name) {
    JsonNode v = o.get(name);
    if (v == null) {
      throw new InvalidValueException("field \"" + name + "\" is missing");
    }
    return v;
  }

  private static long integer(JsonNode o, String name) {
    JsonNode v = field(o, name);
    if (!v.isIntegralNumber()) {
      throw new InvalidValueException("field \"" + name + "\" is " + v + ", not an integer");
    }
    return v.longValue();
  }

  private static String text(JsonNode o, String name) {
    JsonNode v = field(o, name);
    if (!v.isTextual()) {
      throw new InvalidValueException("field \"" + name + "\" is " + v + ", not a string");
    }
    return v.textValue();
  }

  private static JsonNode array(JsonNode o, String name) {
    JsonNode v = field(o, name);
    if (!v.isArray()) {
      throw new InvalidValueException("field \"" + name + "\" is " + v + ", not an array");
    }
    return v;
  }
}
