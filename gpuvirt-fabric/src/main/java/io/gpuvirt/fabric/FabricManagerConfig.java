package io.gpuvirt.fabric;

import io.gpuvirt.core.host.Sysfs;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * NVIDIA Fabric Manager's configuration, {@code fabricmanager.cfg}: {@code KEY=value} lines and
 * {@code #} comments. Values are trimmed (the shipped file has {@code FM_CMD_BIND_INTERFACE=127.0.0.1}
 * with a trailing space); a {@code #} after whitespace starts a comment.
 *
 * <pre>{@code
 * FabricManagerConfig cfg = FabricManagerConfig.read(Sysfs.host());
 * cfg.fabricMode();          // 1 = shared NVSwitch multitenancy
 * cfg.commandAddress();      // where the API listens: 127.0.0.1:6666, or a Unix socket
 * }</pre>
 *
 * <p>Keys not in the file take the values of the file shipped with Fabric Manager 535 (FABRIC_MODE 0,
 * FM_CMD_BIND_INTERFACE 127.0.0.1, FM_CMD_PORT_NUMBER 6666). Keys gpuvirt does not know are kept
 * ({@link #unknownKeys()}): newer releases add keys.
 */
public final class FabricManagerConfig {
  /** Where Fabric Manager's packages install the file. */
  public static final String DEFAULT_PATH = "/usr/share/nvidia/nvswitch/fabricmanager.cfg";

  /** Shared NVSwitch multitenancy ({@code FABRIC_MODE=1}). */
  public static final int SHARED_NVSWITCH_MODE = 1;

  /**
   * The keys NVIDIA documents: those of the file shipped with Fabric Manager 535, the B200-era
   * additions ({@code FM_SM_IPC_INTERFACE}, {@code FM_SM_MGMT_PORT_GUID}), and the multi-node
   * and local-FM keys of the Fabric Manager User Guide ({@code ENABLE_LOCALFM},
   * {@code GFM_WAIT_TIMEOUT}, {@code ENABLE_TOPOLOGY_VALIDATION}, {@code FABRIC_NODE_CONFIG_FILE},
   * {@code MULTI_NODE_TOPOLOGY}, {@code MULTI_NODE_ENABLE_ALL_NODE_PARTITION}), which single-node
   * HGX hosts leave at their defaults. gpuvirt reads none of the latter; it only does not report
   * them as unknown.
   */
  public static final Set<String> KNOWN_KEYS = Collections.unmodifiableSet(new TreeSet<>(List.of(
      "LOG_LEVEL", "LOG_FILE_NAME", "LOG_APPEND_TO_LOG", "LOG_FILE_MAX_SIZE",
      "LOG_MAX_ROTATE_COUNT", "LOG_USE_SYSLOG", "DAEMONIZE", "BIND_INTERFACE_IP",
      "STARTING_TCP_PORT", "UNIX_SOCKET_PATH", "FABRIC_MODE", "FABRIC_MODE_RESTART",
      "STATE_FILE_NAME", "FM_CMD_BIND_INTERFACE", "FM_CMD_PORT_NUMBER", "FM_CMD_UNIX_SOCKET_PATH",
      "FM_STAY_RESIDENT_ON_FAILURES", "ACCESS_LINK_FAILURE_MODE", "TRUNK_LINK_FAILURE_MODE",
      "NVSWITCH_FAILURE_MODE", "ABORT_CUDA_JOBS_ON_FM_EXIT", "TOPOLOGY_FILE_PATH",
      "DATABASE_PATH", "FM_SM_IPC_INTERFACE", "FM_SM_MGMT_PORT_GUID", "ENABLE_LOCALFM",
      "GFM_WAIT_TIMEOUT", "ENABLE_TOPOLOGY_VALIDATION", "FABRIC_NODE_CONFIG_FILE",
      "MULTI_NODE_TOPOLOGY", "MULTI_NODE_ENABLE_ALL_NODE_PARTITION")));

  private static final Map<String, String> DEFAULTS = Map.of(
      "FABRIC_MODE", "0",
      "FABRIC_MODE_RESTART", "0",
      "FM_CMD_BIND_INTERFACE", "127.0.0.1",
      "FM_CMD_PORT_NUMBER", Integer.toString(FmAddress.DEFAULT_PORT),
      "FM_CMD_UNIX_SOCKET_PATH", "");

  private final String source;
  private final Map<String, String> values;
  private final Map<String, String> rawValues;
  private final int fabricMode;
  private final boolean restartMode;
  private final int commandPort;

  private FabricManagerConfig(String source, Map<String, String> values,
      Map<String, String> rawValues, Map<String, Integer> lines) {
    this.source = source;
    this.values = Collections.unmodifiableMap(values);
    this.rawValues = Collections.unmodifiableMap(rawValues);
    this.fabricMode = integer("FABRIC_MODE", lines, 0, 2);
    this.restartMode = integer("FABRIC_MODE_RESTART", lines, 0, 1) == 1;
    this.commandPort = integer("FM_CMD_PORT_NUMBER", lines, 1, 65535);
  }

  /** Reads {@value #DEFAULT_PATH} of a host. */
  public static FabricManagerConfig read(Sysfs host) {
    return read(host, DEFAULT_PATH);
  }

  /** Reads the file at host path {@code path}. */
  public static FabricManagerConfig read(Sysfs host, String path) {
    return parse(host.read(path), path);
  }

  /**
   * Parses the text of a {@code fabricmanager.cfg}.
   *
   * @param source where it came from, for messages
   * @throws FabricConfigException naming the line: a line without {@code =}, an empty key, a key
   *     given twice, or a value that is not what the key takes
   */
  public static FabricManagerConfig parse(String text, String source) {
    Map<String, String> values = new LinkedHashMap<>();
    Map<String, String> raw = new LinkedHashMap<>();
    Map<String, Integer> lines = new HashMap<>();
    String[] all = text.split("\n", -1);
    for (int i = 0; i < all.length; i++) {
      int number = i + 1;
      String line = all[i].endsWith("\r") ? all[i].substring(0, all[i].length() - 1) : all[i];
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("#")) {
        continue;
      }
      int eq = line.indexOf('=');
      if (eq < 0) {
        throw new FabricConfigException(source, number, "'" + trimmed + "' is not KEY=value; "
            + "fix the line or comment it out with #");
      }
      String key = line.substring(0, eq).strip();
      if (key.isEmpty() || !key.matches("[A-Za-z0-9_]+")) {
        throw new FabricConfigException(source, number, "'" + key + "' is not a key name");
      }
      String value = line.substring(eq + 1);
      raw.put(key, value);
      value = stripComment(value).strip();
      Integer earlier = lines.put(key, number);
      if (earlier != null) {
        throw new FabricConfigException(source, number, key + " is set again (first on line "
            + earlier + "); keep one of them");
      }
      values.put(key, value);
    }
    return new FabricManagerConfig(source, values, raw, lines);
  }

  private static String stripComment(String value) {
    for (int i = 1; i < value.length(); i++) {
      if (value.charAt(i) == '#' && Character.isWhitespace(value.charAt(i - 1))) {
        return value.substring(0, i);
      }
    }
    return value.startsWith("#") ? "" : value;
  }

  private int integer(String key, Map<String, Integer> lines, int min, int max) {
    String v = value(key).orElse(DEFAULTS.get(key));
    try {
      int n = v.matches("-?[0-9]{1,9}") ? Integer.parseInt(v) : min - 1; // ASCII digits only
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new FabricConfigException(source, lines.getOrDefault(key, 0), key + "=" + v
        + " is not a number from " + min + " to " + max);
  }

  /** Where it was read from. */
  public String source() {
    return source;
  }

  /** The trimmed value of a key as written in the file (no default). */
  public Optional<String> value(String key) {
    return Optional.ofNullable(values.get(key));
  }

  /** Every key and trimmed value, in file order. */
  public Map<String, String> values() {
    return values;
  }

  /** Every key and its value exactly as written after the {@code =} (trailing spaces kept). */
  public Map<String, String> rawValues() {
    return rawValues;
  }

  /** {@code FABRIC_MODE}: 0 bare metal / full passthrough, 1 shared NVSwitch, 2 vGPU. */
  public int fabricMode() {
    return fabricMode;
  }

  /** Whether {@code FABRIC_MODE} is 1, the mode in which gpuvirt activates partitions. */
  public boolean sharedNvswitchMode() {
    return fabricMode == SHARED_NVSWITCH_MODE;
  }

  /**
   * {@code FABRIC_MODE_RESTART=1}: Fabric Manager starts in resiliency mode and waits for the
   * list of active partitions.
   */
  public boolean restartMode() {
    return restartMode;
  }

  /**
   * {@code STATE_FILE_NAME}: where Fabric Manager keeps the partition state it restarts from, as
   * the file says it (the shipped file says {@code /tmp/fabricmanager.state}; distributions set
   * others, e.g. {@code /var/tmp/fabricmanager.state}); empty when the file does not set it,
   * never a guess.
   */
  public Optional<String> stateFileName() {
    return value("STATE_FILE_NAME").filter(v -> !v.isEmpty());
  }

  /**
   * Where the API listens: the Unix socket of {@code FM_CMD_UNIX_SOCKET_PATH} when set, else TCP on
   * {@code FM_CMD_BIND_INTERFACE} (127.0.0.1 when it is 0.0.0.0) and {@code FM_CMD_PORT_NUMBER};
   * empty when both are empty (no API).
   */
  public Optional<FmAddress> commandAddress() {
    String socket = value("FM_CMD_UNIX_SOCKET_PATH").orElse("");
    if (!socket.isEmpty()) {
      return Optional.of(FmAddress.unixSocket(socket));
    }
    String bind = value("FM_CMD_BIND_INTERFACE").orElse(DEFAULTS.get("FM_CMD_BIND_INTERFACE"));
    if (bind.isEmpty()) {
      return Optional.empty();
    }
    if (bind.equals("0.0.0.0")) {
      bind = "127.0.0.1";
    }
    return Optional.of(commandPort == FmAddress.DEFAULT_PORT ? FmAddress.tcp(bind)
        : FmAddress.tcp(bind + ":" + commandPort));
  }

  /** Keys gpuvirt does not know, sorted (a typo, or a key of a newer release). */
  public Set<String> unknownKeys() {
    TreeSet<String> unknown = new TreeSet<>(values.keySet());
    unknown.removeAll(KNOWN_KEYS);
    return Collections.unmodifiableSet(unknown);
  }
}
