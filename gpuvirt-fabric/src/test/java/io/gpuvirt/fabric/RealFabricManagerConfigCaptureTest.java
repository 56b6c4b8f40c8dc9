package io.gpuvirt.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The {@code fabricmanager.cfg} the Fabric Manager 535.216.01 package ships, as kept in a public
 * packaging repository (its {@code .source} has the URL and commit), read by
 * {@link FabricManagerConfig} to the values the file says.
 */
final class RealFabricManagerConfigCaptureTest {
  private static final Path FILE = Path.of(
      "src/test/resources/captures/fabricmanager-cfg/pexip-535.216.01.txt");

  private static FabricManagerConfig shipped() throws IOException {
    return FabricManagerConfig.parse(Files.readString(FILE, StandardCharsets.UTF_8),
        FILE.toString());
  }

  @Test
  void parse_shippedFile_readsItsValues() throws IOException {
    FabricManagerConfig cfg = shipped();

    assertEquals(List.of(0, false, Optional.of("/tmp/fabricmanager.state"),
        Optional.of(FmAddress.tcp("127.0.0.1"))), List.of(cfg.fabricMode(), cfg.restartMode(),
        cfg.stateFileName(), cfg.commandAddress()));
  }

  @Test
  void unknownKeys_shippedFile_none() throws IOException {
    assertEquals(Set.of(), shipped().unknownKeys());
  }

  @Test
  void rawValues_shippedFile_keepsTheTrailingSpaceOfTheBindInterface() throws IOException {
    assertEquals("127.0.0.1 ", shipped().rawValues().get("FM_CMD_BIND_INTERFACE"));
  }
}
