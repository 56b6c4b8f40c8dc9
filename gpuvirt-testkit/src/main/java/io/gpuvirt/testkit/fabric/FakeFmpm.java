package io.gpuvirt.testkit.fabric;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.fabric.FabricPartition;
import io.gpuvirt.core.fabric.FmReturnCode;
import io.gpuvirt.core.fabric.NvlinkFailedDevice;
import io.gpuvirt.core.fabric.NvlinkFailedDevices;
import io.gpuvirt.core.fabric.PartitionGpu;
import io.gpuvirt.core.host.Command;
import io.gpuvirt.core.host.CommandException;
import io.gpuvirt.core.host.CommandResult;
import io.gpuvirt.core.host.CommandRunner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A fake {@code fmpm} (NVIDIA's Fabric Manager partition tool) in front of a
 * {@link SimulatedFabric}, for the {@link CommandRunner} seam. It accepts fmpm's options
 * ({@code -l}, {@code -a ID}, {@code -d ID}, {@code --set-activated-list 1,2},
 * {@code --list-unsupported-partitions}, {@code --get-nvlink-failed-devices}, {@code --hostname},
 * {@code --unix-domain-socket}, {@code -v}), prints JSON the way fmpm's jsoncpp StyledWriter does,
 * and exits with the Fabric Manager return code as a shell sees it ({@code code & 0xff}: 239 for
 * PARTITION_ID_IN_USE). A hang fault behaves like a process the runner kills at its timeout.
 *
 * <p>It runs any program whose file name is {@code fmpm}; anything else fails to start, as a missing
 * program does.
 */
public final class FakeFmpm implements CommandRunner {
  /** The version {@code fmpm -v} prints. */
  public static final String VERSION = "1.0.1";
  static final long LIST_VERSION = 0x0102030CL;
  static final long UNSUPPORTED_VERSION = 0x01001208L;
  static final long NVLINK_FAILED_VERSION = 0x010028BCL;

  private final SimulatedFabric fabric;
  private final boolean uncountedSetActivatedList;
  private final boolean ignoresUnixSocket;

  FakeFmpm(SimulatedFabric fabric) {
    this(fabric, false, false);
  }

  private FakeFmpm(SimulatedFabric fabric, boolean uncountedSetActivatedList,
      boolean ignoresUnixSocket) {
    this.fabric = fabric;
    this.uncountedSetActivatedList = uncountedSetActivatedList;
    this.ignoresUnixSocket = ignoresUnixSocket;
  }

  /**
   * An fmpm from before its 2026-04 fix whose {@code --set-activated-list} never counts the ids it
   * parsed, so Fabric Manager is always told that no partition is active, and which loops forever
   * (hangs until killed) when an id is listed twice.
   */
  public FakeFmpm withUncountedSetActivatedList() {
    return new FakeFmpm(fabric, true, ignoresUnixSocket);
  }

  /**
   * An fmpm from before its 2026-04 fix that overwrites the socket path with the host name, so
   * {@code --unix-domain-socket} is ignored and it connects over TCP.
   */
  public FakeFmpm withIgnoredUnixSocket() {
    return new FakeFmpm(fabric, uncountedSetActivatedList, true);
  }

  @Override
  public CommandResult run(Command command) {
    String program = command.program();
    String name = program.substring(program.lastIndexOf('/') + 1);
    if (!name.equals("fmpm")) {
      throw new CommandException(command.argv(), "could not start " + program
          + ": no such file (the fake runs only fmpm)", null);
    }
    Args args;
    try {
      args = Args.parse(command.argv().subList(1, command.argv().size()));
    } catch (IllegalArgumentException | InvalidValueException e) {
      return result(command, 1, "", e.getMessage() + "\n" + usage());
    }
    if (args.action.equals("-h")) {
      return result(command, 0, usage(), "");
    }
    if (args.action.equals("-v")) {
      return result(command, 0, "fmpm version " + VERSION + "\n", "");
    }
    boolean duplicates = args.ids.size() != args.ids.stream().distinct().count();
    if (duplicates && !uncountedSetActivatedList) {
      return result(command, 1, "", "fmpm: a partition id is listed twice in " + args.ids + "\n");
    }
    Outcome outcome = duplicates
        ? new Outcome(FmReturnCode.TIMEOUT, true, "")
        : fabric.transact(s -> execute(s, args));
    if (outcome.hang) {
      throw new CommandException(command.argv(), program + " ran past its timeout of "
          + command.timeout().toSeconds() + " s and was killed; stderr: ", null, true);
    }
    if (outcome.code != FmReturnCode.SUCCESS) {
      return result(command, outcome.code.exitStatus(), outcome.stdout,
          "");
    }
    return result(command, 0, outcome.stdout, "");
  }

  private static CommandResult result(Command c, int exit, String out, String err) {
    return new CommandResult(c.argv(), exit, out, err, Duration.ofMillis(1), false);
  }

  private record Outcome(FmReturnCode code, boolean hang, String stdout) {}

  private Outcome execute(FabricState s, Args args) {
    long now = fabric.now();
    boolean socket = args.unixSocket.isPresent() && !ignoresUnixSocket;
    boolean listening = socket
        ? !s.unixSocket.isEmpty() && s.unixSocket.equals(args.unixSocket.get())
        : s.tcpAddress.equals(args.hostname) || s.tcpAddress.equals(args.hostname + ":6666");
    if (!listening) {
      return failed("connect to Fabric Manager", FmReturnCode.CONNECTION_NOT_VALID, false);
    }
    FabricState.Gate connect = s.gate(FabricOperation.CONNECT, now);
    if (!connect.ok()) {
      return failed("connect to Fabric Manager", connect.code(), connect.hang());
    }
    FabricOperation op = switch (args.action) {
      case "-l" -> FabricOperation.LIST;
      case "-a" -> FabricOperation.ACTIVATE;
      case "-d" -> FabricOperation.DEACTIVATE;
      case "--set-activated-list" -> FabricOperation.SET_ACTIVATED;
      case "--list-unsupported-partitions" -> FabricOperation.UNSUPPORTED;
      default -> FabricOperation.NVLINK_FAILED;
    };
    FabricState.Gate gate = s.gate(op, now);
    if (!gate.ok()) {
      return failed(describe(op), gate.code(), gate.hang());
    }
    return switch (op) {
      case LIST -> new Outcome(FmReturnCode.SUCCESS, false, StyledJson.write(listJson(s)));
      case ACTIVATE -> done(describe(op), s.activate(args.id, java.util.Optional.empty()));
      case DEACTIVATE -> done(describe(op), s.deactivate(args.id));
      case SET_ACTIVATED -> done(describe(op),
          s.setActivated(uncountedSetActivatedList ? List.of() : args.ids));
      case UNSUPPORTED -> new Outcome(FmReturnCode.SUCCESS, false,
          StyledJson.write(unsupportedJson(s)));
      default -> new Outcome(FmReturnCode.SUCCESS, false,
          StyledJson.write(nvlinkFailedJson(s.nvlinkFailed())));
    };
  }

  private static String describe(FabricOperation op) {
    return switch (op) {
      case LIST -> "get supported fabric partitions";
      case ACTIVATE -> "activate partition";
      case DEACTIVATE -> "deactivate partition";
      case SET_ACTIVATED -> "set activated partition list";
      case UNSUPPORTED -> "get unsupported fabric partitions";
      default -> "get NVLink failed devices";
    };
  }

  private static Outcome done(String what, FmReturnCode code) {
    return code == FmReturnCode.SUCCESS ? new Outcome(code, false, "")
        : failed(what, code, false);
  }

  private static Outcome failed(String what, FmReturnCode code, boolean hang) {
    return new Outcome(code, hang, "Failed to " + what + ". fmReturn: " + code.code() + "\n");
  }

  private static ObjectNode listJson(FabricState s) {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    root.put("version", LIST_VERSION);
    List<FabricPartition> parts = s.listing();
    root.put("numPartitions", parts.size());
    root.put("maxNumPartitions", FabricState.MAX_PARTITIONS);
    ArrayNode infos = root.putArray("partitionInfo");
    for (FabricPartition p : parts) {
      ObjectNode o = infos.addObject();
      o.put("partitionId", p.id());
      o.put("isActive", p.active() ? 1 : 0);
      o.put("numGpus", p.size());
      ArrayNode gpus = o.putArray("gpuInfo");
      for (PartitionGpu g : p.gpus()) {
        ObjectNode gn = gpus.addObject();
        gn.put("physicalId", g.moduleId());
        gn.put("uuid", "");
        gn.put("pciBusId", "");
        gn.put("numNvLinksAvailable", g.nvlinksAvailable());
        gn.put("maxNumNvLinks", g.maxNvlinks());
        gn.put("nvlinkLineRateMBps", g.nvlinkLineRateMbps());
      }
    }
    return root;
  }

  private static ObjectNode unsupportedJson(FabricState s) {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    root.put("version", UNSUPPORTED_VERSION);
    root.put("numPartitions", s.unsupported.size());
    ArrayNode infos = root.putArray("partitionInfo");
    for (int id : s.unsupported) {
      FabricPartition p = s.partition(id).orElseThrow();
      ObjectNode o = infos.addObject();
      o.put("partitionId", id);
      o.put("numGpus", p.size());
      ArrayNode ids = o.putArray("gpuPhysicalIds");
      p.moduleIds().forEach(ids::add);
    }
    return root;
  }

  private static ObjectNode nvlinkFailedJson(NvlinkFailedDevices d) {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    root.put("version", NVLINK_FAILED_VERSION);
    root.put("numGpus", d.gpus().size());
    root.put("numSwitches", d.switches().size());
    failedArray(root.putArray("gpuInfo"), d.gpus());
    failedArray(root.putArray("switchInfo"), d.switches());
    return root;
  }

  private static void failedArray(ArrayNode into, List<NvlinkFailedDevice> devices) {
    for (NvlinkFailedDevice dev : devices) {
      ObjectNode o = into.addObject();
      o.put("uuid", dev.uuid());
      o.put("pciBusId", dev.pciBusId());
      o.put("numPorts", dev.failedPorts().size());
      ArrayNode ports = o.putArray("portNum");
      dev.failedPorts().forEach(ports::add);
    }
  }

  private static String usage() {
    return """
        Usage: fmpm [options]
          -l, --list                          list supported partitions
          -a, --activate <id>                 activate a partition
          -d, --deactivate <id>               deactivate a partition
              --set-activated-list <id,...>   tell a restarted Fabric Manager which are active
              --list-unsupported-partitions   list unsupported partitions
              --get-nvlink-failed-devices     list devices with failed NVLinks
              --hostname <ip>                 Fabric Manager address (default 127.0.0.1)
              --unix-domain-socket <path>     Fabric Manager Unix socket
          -v, --version                       print the version
          -h, --help                          print this help
        """;
  }

  /** Parsed fmpm arguments. */
  private static final class Args {
    String action = "";
    long id = -1;
    List<Long> ids = new ArrayList<>();
    String hostname = "127.0.0.1";
    Optional<String> unixSocket = Optional.empty();

    static Args parse(List<String> argv) {
      Args a = new Args();
      for (int i = 0; i < argv.size(); i++) {
        String arg = argv.get(i);
        switch (arg) {
          case "-l", "--list" -> a.action("-l");
          case "-h", "--help" -> a.action("-h");
          case "-v", "--version" -> a.action("-v");
          case "--list-unsupported-partitions", "--get-nvlink-failed-devices" -> a.action(arg);
          case "-a", "--activate", "-d", "--deactivate" -> {
            a.action(arg.startsWith("--") ? arg.substring(1, 3) : arg);
            a.id = id(value(argv, ++i, arg));
          }
          case "--set-activated-list" -> {
            a.action(arg);
            String list = value(argv, ++i, arg);
            if (!list.isEmpty()) {
              for (String part : list.split(",", -1)) {
                a.ids.add(id(part));
              }
            }
          }
          case "--hostname" -> a.hostname = value(argv, ++i, arg);
          case "--unix-domain-socket" -> a.unixSocket = Optional.of(value(argv, ++i, arg));
          default -> throw new InvalidValueException("fmpm: unknown option '" + arg + "'");
        }
      }
      if (a.action.isEmpty()) {
        throw new InvalidValueException("fmpm: no operation given");
      }
      return a;
    }

    private void action(String value) {
      if (!action.isEmpty()) {
        throw new InvalidValueException("fmpm: only one operation at a time");
      }
      action = value;
    }

    private static String value(List<String> argv, int i, String option) {
      if (i >= argv.size()) {
        throw new InvalidValueException("fmpm: option " + option + " needs a value");
      }
      return argv.get(i);
    }

    private static long id(String text) {
      long id;
      try {
        id = Long.parseLong(text);
      } catch (NumberFormatException e) {
        throw new InvalidValueException("fmpm: '" + text + "' is not a partition id");
      }
      if (id < 0 || id >= FabricState.MAX_PARTITIONS) {
        throw new InvalidValueException("fmpm: partition id must be less than "
            + FabricState.MAX_PARTITIONS);
      }
      return id;
    }
  }
}
