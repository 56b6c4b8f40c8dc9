package io.gpuvirt.core.fabric;

import io.gpuvirt.core.InvalidValueException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gpuvirt.core.GpuvirtException;
import io.gpuvirt.core.host.HostAccessException;
import io.gpuvirt.core.internal.AtomicFiles;
import io.gpuvirt.core.internal.BoundedFiles;
import io.gpuvirt.core.internal.DirectoryLock;
import io.gpuvirt.core.pci.InvalidPciAddressException;
import io.gpuvirt.core.pci.PciAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Keeps the {@link ModuleIdMap} in a state directory, beside the lease ledger. The map can only be
 * read from the host while the GPUs are on the nvidia driver, so it is discovered once and kept.
 *
 * <p>The file ({@value #FILE_NAME}) is JSON, replaced atomically (written to a temporary file,
 * flushed, then renamed over the old one), so a crash leaves either the old map or the new one:
 *
 * <pre>{@code
 * {"format": 1, "moduleIds": {"1": "0000:60:00.0", "2": "0000:17:00.0"}}
 * }</pre>
 */
public final class ModuleIdMapStore {
  /** The file name in the state directory. */
  public static final String FILE_NAME = "module-ids.json";
  private static final int FORMAT = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path directory;

  /**
   * A store in {@code directory} (created on the first save).
   *
   * @param directory the state directory, for example {@code /var/lib/gpuvirt}
   */
  public ModuleIdMapStore(Path directory) {
    this.directory = directory;
  }

  /** The file the map is kept in. */
  public Path file() {
    return directory.resolve(FILE_NAME);
  }

  /**
   * The saved map, or empty when none was saved.
   *
   * @throws GpuvirtException when the file exists but is not a valid map (naming the file and fix)
   */
  public Optional<ModuleIdMap> load() {
    String text;
    try {
      text = new String(BoundedFiles.read(file(), BoundedFiles.STATE_FILE_MAX),
          StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (BoundedFiles.RefusedFileException e) {
      throw new HostAccessException(file().toString(), "refusing the module-id map " + file()
          + ": it is " + e.found() + ", not a map file; delete it and run 'gpuvirt module-ids'"
          + " while the GPUs are on the nvidia driver", e);
    } catch (IOException e) {
      throw new HostAccessException(file().toString(), "could not read the module-id map "
          + file() + ": " + e.getMessage(), e);
    }
    return Optional.of(parse(text));
  }

  /**
   * The saved map.
   *
   * @throws GpuvirtException when none was saved, naming the command that discovers it
   */
  public ModuleIdMap require() {
    return load().orElseThrow(() -> new GpuvirtException("no GPU module-id map in " + file()
        + "; discover it with 'gpuvirt module-ids' while the GPUs are on the nvidia driver"));
  }

  /** Saves the map, replacing any saved one atomically. */
  public void save(ModuleIdMap map) {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", FORMAT);
    ObjectNode ids = root.putObject("moduleIds");
    map.byModuleId().forEach((id, address) -> ids.put(Integer.toString(id), address.toString()));
    byte[] bytes;
    try {
      bytes = (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n")
          .getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new GpuvirtException("could not encode the module-id map: " + e.getMessage(), e);
    }
    try {
      Files.createDirectories(directory);
      try (DirectoryLock lock = DirectoryLock.acquire(directory.resolve(FILE_NAME + ".lock"))) {
        AtomicFiles.replace(file(), bytes);
      }
    } catch (IOException e) {
      throw new HostAccessException(file().toString(), "could not save the module-id map to "
          + file() + ": " + e.getMessage() + "; check that the state directory is writable", e);
    }
  }



  private ModuleIdMap parse(String text) {
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw corrupt("it is not JSON (" + e.getOriginalMessage() + ")");
    }
    if (root == null || !root.isObject()) {
      throw corrupt("it is not a JSON object");
    }
    JsonNode format = root.get("format");
    if (format == null || !format.isInt() || format.intValue() != FORMAT) {
      throw corrupt("its format is " + format + ", expected " + FORMAT);
    }
    JsonNode ids = root.get("moduleIds");
    if (ids == null || !ids.isObject()) {
      throw corrupt("it has no \"moduleIds\" object");
    }
    Map<Integer, PciAddress> byModuleId = new TreeMap<>();
    for (Map.Entry<String, JsonNode> e : ids.properties()) {
      if (!e.getKey().matches("[0-9]{1,9}")) { // ASCII digits only: no sign, no other digits
        throw corrupt("module id '" + e.getKey() + "' is not a number (ASCII digits 0-9)");
      }
      int id = Integer.parseInt(e.getKey());
      if (!e.getValue().isTextual()) {
        throw corrupt("module id " + id + " maps to " + e.getValue() + ", not an address string");
      }
      try {
        byModuleId.put(id, PciAddress.parse(e.getValue().textValue()));
      } catch (InvalidPciAddressException ex) {
        throw corrupt("module id " + id + ": " + ex.getMessage());
      }
    }
    try {
      return new ModuleIdMap(byModuleId);
    } catch (IllegalArgumentException | InvalidValueException ex) {
      throw corrupt(ex.getMessage());
    }
  }

  private GpuvirtException corrupt(String why) {
    return new GpuvirtException("the module-id map " + file() + " is unreadable: " + why
        + "; delete it and rediscover the map with 'gpuvirt module-ids'");
  }
}
