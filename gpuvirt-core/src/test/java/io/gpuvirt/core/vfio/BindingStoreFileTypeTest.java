package io.gpuvirt.core.vfio;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpuvirt.core.GpuvirtException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A binding store that is not a regular file is refused by name, never read as empty. */
final class BindingStoreFileTypeTest {
  @TempDir Path dir;

  @Test
  void bindings_danglingLink_isRefusedNotEmpty() throws Exception {
    BindingStore store = BindingStore.open(dir);
    Files.createSymbolicLink(store.file(), Path.of("/nonexistent/bindings.json"));
    GpuvirtException e = assertThrows(GpuvirtException.class, store::bindings);
    assertTrue(e.getMessage().contains("dangling"), e.getMessage());
  }

  @Test
  void bindings_linkToDevZero_isRefused() throws Exception {
    BindingStore store = BindingStore.open(dir);
    Files.createSymbolicLink(store.file(), Path.of("/dev/zero"));
    GpuvirtException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(GpuvirtException.class, store::bindings));
    assertTrue(e.getMessage().contains("character device"), e.getMessage());
  }
}
