package io.gpuvirt.core.fabric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class ModuleIdMapStoreTest {
  @TempDir Path dir;

  static ModuleIdMap b200() {
    Map<Integer, PciAddress> m = new TreeMap<>();
    String[] buses = {"17", "3d", "60", "70", "98", "bb", "dd", "ed"};
    int[] ids = {1, 4, 2, 3, 7, 5, 8, 6};
    for (int i = 0; i < buses.length; i++) {
      m.put(ids[i], PciAddress.parse("0000:" + buses[i] + ":00.0"));
    }
    return new ModuleIdMap(m);
  }

  @Test
  void load_nothingSaved_isEmpty() {
    assertEquals(Optional.empty(), new ModuleIdMapStore(dir.resolve("state")).load());
  }

  @Test
  void load_afterSave_returnsTheSameMap() {
    ModuleIdMapStore store = new ModuleIdMapStore(dir.resolve("state"));
    store.save(b200());
    assertEquals(b200(), new ModuleIdMapStore(dir.resolve("state")).require());
  }

  @Test
  void save_twice_replacesAndLeavesNoTemporaryFile() throws IOException {
    ModuleIdMapStore store = new ModuleIdMapStore(dir);
    store.save(new ModuleIdMap(Map.of(1, PciAddress.parse("0000:01:00.0"))));
    store.save(b200());
    try (var files = Files.list(dir)) {
      // The map and its lock file; no temporary file left behind.
      assertEquals(java.util.List.of(ModuleIdMapStore.FILE_NAME, ModuleIdMapStore.FILE_NAME
          + ".lock"), files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void require_nothingSaved_namesTheDiscoveryCommand() {
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> new ModuleIdMapStore(dir).require());
    assertTrue(e.getMessage().contains("gpuvirt module-ids"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "", "{", "[]", "{\"format\":2,\"moduleIds\":{}}", "{\"format\":1}",
      "{\"format\":1,\"moduleIds\":{\"x\":\"0000:17:00.0\"}}",
      "{\"format\":1,\"moduleIds\":{\"1\":\"0000:17:00.0/../x\"}}",
      "{\"format\":1,\"moduleIds\":{\"1\":17}}",
      "{\"format\":1,\"moduleIds\":{\"1\":\"0000:17:00.0\",\"2\":\"0000:17:00.0\"}}",
      "{\"format\":1,\"moduleIds\":{\"-1\":\"0000:17:00.0\"}}",
      "{\"format\":1,\"moduleIds\":{\"+1\":\"0000:17:00.0\"}}",
      "{\"format\":1,\"moduleIds\":{\"\u0661\":\"0000:17:00.0\"}}",
      "{\"format\":1,\"moduleIds\":{\"\uff11\":\"0000:17:00.0\"}}"})
  void load_corruptFile_failsNamingTheFile(String content) throws IOException {
    Files.writeString(dir.resolve(ModuleIdMapStore.FILE_NAME), content);
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> new ModuleIdMapStore(dir).load());
    assertTrue(e.getMessage().contains(ModuleIdMapStore.FILE_NAME), e.getMessage());
  }

  @Test
  void load_danglingLink_isRefusedNotEmpty() throws IOException {
    Files.createSymbolicLink(dir.resolve(ModuleIdMapStore.FILE_NAME), Path.of("/nonexistent/m"));
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> new ModuleIdMapStore(dir).load());
    assertTrue(e.getMessage().contains("dangling"), e.getMessage());
  }

  @Test
  void load_linkToDevZero_isRefused() throws IOException {
    Files.createSymbolicLink(dir.resolve(ModuleIdMapStore.FILE_NAME), Path.of("/dev/zero"));
    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> new ModuleIdMapStore(dir).load());
    assertTrue(e.getMessage().contains("character device"), e.getMessage());
  }
}
