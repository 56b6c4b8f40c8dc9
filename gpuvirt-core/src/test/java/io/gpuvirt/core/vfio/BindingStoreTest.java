package io.gpuvirt.core.vfio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.InvalidValueException;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class BindingStoreTest {
  @TempDir Path dir;

  private static StoredBinding bound(String bdf, int group, String original) {
    return new StoredBinding(new DeviceBinding(PciAddress.parse(bdf), group,
        Optional.ofNullable(original), Optional.empty(), "vfio-pci", true),
        StoredBinding.Phase.BOUND);
  }

  private BindingStore store() {
    return BindingStore.open(dir.resolve("state"));
  }

  @Test
  void bindings_noFileYet_areNone() {
    assertEquals(List.of(), store().bindings());
  }

  @Test
  void replace_thenBindings_readsBackEveryField() {
    StoredBinding pending = new StoredBinding(new DeviceBinding(PciAddress.parse("0000:3d:00.0"),
        13, Optional.empty(), Optional.of("none"), "nvgrace_gpu_vfio_pci", true),
        StoredBinding.Phase.BINDING);
    StoredBinding noOp = new StoredBinding(new DeviceBinding(PciAddress.parse("0000:17:00.1"),
        12, Optional.of("vfio-pci"), "vfio-pci", false), StoredBinding.Phase.BOUND);
    List<StoredBinding> all = List.of(bound("0000:17:00.0", 12, "nvidia"), noOp, pending);
    BindingStore store = store();
    try (BindingStore.Session s = store.lock()) {
      s.replace(all);
    }

    assertEquals(all, store.bindings());
  }

  @Test
  void replace_leavesNoTemporaryFile() throws IOException {
    BindingStore store = store();
    try (BindingStore.Session s = store.lock()) {
      s.replace(List.of(bound("0000:17:00.0", 12, "nvidia")));
    }

    try (var files = Files.list(store.directory())) {
      assertEquals(List.of(BindingStore.FILE, BindingStore.LOCK),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void replace_twoBindingsForOneDevice_isRefused() {
    try (BindingStore.Session s = store().lock()) {
      assertThrows(InvalidValueException.class, () -> s.replace(List.of(
          bound("0000:17:00.0", 12, "nvidia"), bound("0000:17:00.0", 12, null))));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"{ torn", "[]", "{\"format\":\"other\",\"version\":1,\"bindings\":[]}",
      "{\"format\":\"gpuvirt-bindings\",\"version\":1,\"bindings\":{}}",
      "{\"format\":\"gpuvirt-bindings\",\"version\":1,\"bindings\":[{\"address\":\"17:00.0\"}]}",
      "{\"format\":\"gpuvirt-bindings\",\"version\":1,\"bindings\":[{\"address\":\"0000:17:00.0\","
          + "\"iommuGroup\":1,\"driver\":\"vfio-pci\",\"originalDriver\":\"../x\","
          + "\"originalOverride\":null,\"boundByGpuvirt\":true,\"phase\":\"BOUND\"}]}",
      "{\"format\":\"gpuvirt-bindings\",\"version\":1,\"bindings\":[{\"address\":\"0000:17:00.0\","
          + "\"iommuGroup\":1,\"driver\":\"vfio-pci\",\"originalDriver\":null,"
          + "\"originalOverride\":null,\"boundByGpuvirt\":true,\"phase\":\"BOUND\",\"x\":1}]}",
      "{\"format\":\"gpuvirt-bindings\",\"version\":1,\"bindings\":[]} trailing"})
  void bindings_corruptFile_isRefusedNamingTheFile(String content) throws IOException {
    BindingStore store = store();
    Files.writeString(store.file(), content);

    GpuvirtException e = assertThrows(GpuvirtException.class, store::bindings);

    assertTrue(e.getMessage().contains(store.file() + " is corrupt"), e.getMessage());
  }

  @Test
  void bindings_corruptFile_isKeptAsItWas() throws IOException {
    BindingStore store = store();
    Files.writeString(store.file(), "{ torn");

    assertThrows(GpuvirtException.class, store::bindings);

    assertArrayEquals("{ torn".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(store.file()));
  }

  @Test
  void bindings_newerFormatVersion_isRefusedAsNewer() throws IOException {
    BindingStore store = store();
    Files.writeString(store.file(), "{\"format\":\"gpuvirt-bindings\",\"version\":2,"
        + "\"bindings\":[]}");

    GpuvirtException e = assertThrows(GpuvirtException.class, store::bindings);

    assertTrue(e.getMessage().contains("newer than this gpuvirt understands"), e.getMessage());
  }

  @Test
  void storedBinding_inProgressButNotMadeByGpuvirt_isRefused() {
    DeviceBinding noOp = new DeviceBinding(PciAddress.parse("0000:17:00.0"), 12,
        Optional.of("vfio-pci"), "vfio-pci", false);

    assertThrows(InvalidValueException.class,
        () -> new StoredBinding(noOp, StoredBinding.Phase.BINDING));
  }

  @Test
  void lock_heldByOneThread_makesAnotherWait() throws Exception {
    BindingStore store = store();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < 10; i++) {
            try (BindingStore.Session s = store.lock()) {
              List<StoredBinding> now = new ArrayList<>(s.bindings());
              now.add(bound(String.format("0000:%02x:%02x.0", thread + 1, i), thread, "nvidia"));
              s.replace(now);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }

    assertEquals(40, store.bindings().size());
  }

  @Test
  void open_directoryThatCannotBeCreated_failsNamingIt() throws IOException {
    Path file = Files.writeString(dir.resolve("a-file"), "x");

    GpuvirtException e = assertThrows(GpuvirtException.class,
        () -> BindingStore.open(file.resolve("state")));

    assertTrue(e.getMessage().contains(file.resolve("state").toString()), e.getMessage());
  }
}
