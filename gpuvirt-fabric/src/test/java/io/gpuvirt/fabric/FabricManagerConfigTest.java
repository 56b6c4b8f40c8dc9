package io.gpuvirt.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.host.Sysfs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

final class FabricManagerConfigTest {
  /** The shape of the file Fabric Manager 535 ships, abridged; note the space after 127.0.0.1. */
  static final String SHIPPED = """
      # NVIDIA Fabric Manager configuration file.
      # Note: This configuration file is read during Fabric Manager service startup. So, Fabric
      # Manager service restart is required for new settings to take effect.

      # Description: Fabric Manager logging levels
      # Possible Values:
      #    0  - All the logging is disabled
      #    4  - Set log level to INFO and above
      LOG_LEVEL=4

      LOG_FILE_NAME=/var/log/fabricmanager.log
      LOG_APPEND_TO_LOG=1
      LOG_FILE_MAX_SIZE=1024
      LOG_USE_SYSLOG=0
      DAEMONIZE=1
      BIND_INTERFACE_IP=127.0.0.1
      STARTING_TCP_PORT=16000
      FABRIC_MODE=0
      FABRIC_MODE_RESTART=0
      STATE_FILE_NAME=/tmp/fabricmanager.state
      FM_CMD_BIND_INTERFACE=127.0.0.1\s
      FM_CMD_PORT_NUMBER=6666
      FM_STAY_RESIDENT_ON_FAILURES=0
      ACCESS_LINK_FAILURE_MODE=0
      TRUNK_LINK_FAILURE_MODE=0
      NVSWITCH_FAILURE_MODE=0
      ABORT_CUDA_JOBS_ON_FM_EXIT=1
      TOPOLOGY_FILE_PATH=/usr/share/nvidia/nvswitch
      DATABASE_PATH=/usr/share/nvidia/nvswitch
      FM_CMD_UNIX_SOCKET_PATH=
      UNIX_SOCKET_PATH=
      LOG_MAX_ROTATE_COUNT=3
      """;

  private static FabricManagerConfig parse(String text) {
    return FabricManagerConfig.parse(text, "fabricmanager.cfg");
  }

  private static FabricManagerConfig shippedWith(String key, String value) {
    return parse(SHIPPED.replaceAll("(?m)^" + key + "=.*$", key + "=" + value));
  }

  @Test
  void fabricMode_shippedFile_isZero() {
    assertEquals(0, parse(SHIPPED).fabricMode());
  }

  @Test
  void value_bindInterfaceWithTrailingSpace_isTrimmed() {
    assertEquals(Optional.of("127.0.0.1"), parse(SHIPPED).value("FM_CMD_BIND_INTERFACE"));
  }

  @Test
  void rawValues_bindInterface_keepsTheTrailingSpace() {
    assertEquals("127.0.0.1 ", parse(SHIPPED).rawValues().get("FM_CMD_BIND_INTERFACE"));
  }

  @Test
  void commandAddress_shippedFile_isLocalhostOnTheDefaultPort() {
    assertEquals(Optional.of(FmAddress.tcp("127.0.0.1")), parse(SHIPPED).commandAddress());
  }

  @Test
  void commandAddress_otherPort_includesIt() {
    assertEquals(Optional.of(FmAddress.tcp("127.0.0.1:7000")),
        shippedWith("FM_CMD_PORT_NUMBER", "7000").commandAddress());
  }

  @Test
  void commandAddress_socketPath_winsOverTcp() {
    assertEquals(Optional.of(FmAddress.unixSocket("/run/nvidia-fabricmanager/socket")),
        shippedWith("FM_CMD_UNIX_SOCKET_PATH", "/run/nvidia-fabricmanager/socket")
            .commandAddress());
  }

  @Test
  void commandAddress_bindAll_connectsToLocalhost() {
    assertEquals(Optional.of(FmAddress.tcp("127.0.0.1")),
        shippedWith("FM_CMD_BIND_INTERFACE", "0.0.0.0").commandAddress());
  }

  @Test
  void commandAddress_bindInterfaceAndSocketEmpty_isEmpty() {
    assertEquals(Optional.empty(), shippedWith("FM_CMD_BIND_INTERFACE", "  ").commandAddress());
  }

  @Test
  void restartMode_set_isTrue() {
    assertTrue(shippedWith("FABRIC_MODE_RESTART", "1").restartMode());
  }

  @Test
  void fabricMode_inlineCommentAndCrlf_read() {
    assertEquals(1, parse("FABRIC_MODE=1   # shared NVSwitch\r\nLOG_LEVEL=4\r\n").fabricMode());
  }

  @Test
  void unknownKeys_newAndMistypedKeys_keptAndListed() {
    FabricManagerConfig cfg = parse(SHIPPED + "FM_SM_IPC_INTERFACE=/var/run/x.socket\n"
        + "FABRIC_MODES=1\nNEW_2027_KEY=yes\n");
    assertEquals(Set.of("FABRIC_MODES", "NEW_2027_KEY"), cfg.unknownKeys());
  }

  @Test
  void value_unknownKey_keptForCallers() {
    assertEquals(Optional.of("yes"), parse("NEW_2027_KEY=yes\n").value("NEW_2027_KEY"));
  }

  @Test
  void fabricMode_missingKey_isTheShippedDefault() {
    assertEquals(0, parse("LOG_LEVEL=4\n").fabricMode());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "FABRIC_MODE 1|1",
      "LOG_LEVEL=4\\nFABRIC_MODE=1\\nFABRIC_MODE=0|3",
      "FABRIC_MODE=shared|1",
      "FABRIC_MODE=3|1",
      "FABRIC_MODE=|1",
      "FABRIC_MODE_RESTART=2|1",
      "FM_CMD_PORT_NUMBER=70000|1",
      "# c\\n=1|2",
      "BAD KEY=1|1"})
  void parse_badLine_namesTheLine(String text, int line) {
    FabricConfigException e = assertThrows(FabricConfigException.class,
        () -> parse(text.replace("\\n", "\n")));
    assertEquals(line, e.line(), e.getMessage());
  }

  @Test
  void read_fromHostRoot_readsTheDefaultPath(@TempDir Path root) throws Exception {
    Path file = root.resolve("usr/share/nvidia/nvswitch/fabricmanager.cfg");
    Files.createDirectories(file.getParent());
    Files.writeString(file, shippedWith("FABRIC_MODE", "1").rawValues().entrySet().stream()
        .map(e -> e.getKey() + "=" + e.getValue()).reduce("", (a, b) -> a + b + "\n"));
    assertEquals(1, FabricManagerConfig.read(Sysfs.at(root)).fabricMode());
  }

  @Test
  void unknownKeys_multiNodeAndLocalFmKeysNvidiaDocuments_areKnown() {
    FabricManagerConfig cfg = parse(SHIPPED + "ENABLE_LOCALFM=0\nGFM_WAIT_TIMEOUT=0\n"
        + "ENABLE_TOPOLOGY_VALIDATION=0\nFABRIC_NODE_CONFIG_FILE=/usr/share/nvidia/nvswitch/"
        + "fabric_node_config\nMULTI_NODE_TOPOLOGY=\nMULTI_NODE_ENABLE_ALL_NODE_PARTITION=0\n");

    assertEquals(Set.of(), cfg.unknownKeys());
  }

  @Test
  void stateFileName_setByTheDistribution_isReadFromTheFile() {
    assertEquals(Optional.of("/var/tmp/fabricmanager.state"),
        shippedWith("STATE_FILE_NAME", "/var/tmp/fabricmanager.state").stateFileName());
  }

  @Test
  void stateFileName_notInTheFile_isEmptyNotAGuess() {
    FabricManagerConfig cfg = parse(SHIPPED.replaceAll("(?m)^STATE_FILE_NAME=.*\n", ""));

    assertEquals(Optional.empty(), cfg.stateFileName());
  }
}
